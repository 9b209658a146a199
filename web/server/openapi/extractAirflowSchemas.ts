// Regenerates airflowSchemas.json — the response schemas of Airflow's REST API v2 (components of
// ../shared/airflow-api/v2-core.yaml, plus LoginBody/LoginResponse of auth.yaml) — which Updraft's
// responses follow and its OpenAPI document references. Run when the contract is updated:
//   npx tsx web/server/openapi/extractAirflowSchemas.ts
// The web server never reads the YAML itself: the contract lives outside the repository.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const contract = path.resolve(here, "../../../../shared/airflow-api");
const core = YAML.parse(fs.readFileSync(path.join(contract, "v2-core.yaml"), "utf8")) as { components: { schemas: Record<string, unknown> } };
const auth = YAML.parse(fs.readFileSync(path.join(contract, "auth.yaml"), "utf8")) as { components: { schemas: Record<string, unknown> } };
const schemas = { ...core.components.schemas, LoginBody: auth.components.schemas.LoginBody, LoginResponse: auth.components.schemas.LoginResponse };
fs.writeFileSync(path.join(here, "airflowSchemas.json"), `${JSON.stringify(schemas, null, 1)}\n`);
console.log(`wrote ${Object.keys(schemas).length} schemas`);
