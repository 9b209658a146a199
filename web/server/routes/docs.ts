// The OpenAPI document (GET /api/v2/openapi.json) and interactive docs (/docs, Swagger UI served
// from the swagger-ui-dist package — no CDN). Both public: they describe the API, not its data.
import express from "express";
import swaggerUi from "swagger-ui-express";
import { openApiDocument } from "../openapi/document.js";

export function openApiRouter(version: string): express.Router {
  const router = express.Router();
  router.get("/openapi.json", (_req, res) => {
    res.json(openApiDocument(version));
  });
  return router;
}

export function docsRouter(): express.Router {
  const router = express.Router();
  router.use(
    swaggerUi.serve,
    swaggerUi.setup(undefined, {
      customSiteTitle: "Updraft REST API",
      // validatorUrl: null — no badge fetched from validator.swagger.io (the CSP would block it anyway).
      swaggerOptions: { url: "/api/v2/openapi.json", persistAuthorization: true, validatorUrl: null },
    }),
  );
  return router;
}
