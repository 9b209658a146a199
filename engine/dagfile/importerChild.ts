// Child process: imports bundled DAG files on request and answers with their structures or an
// import problem. A file that hangs or crashes at import costs only this child (DESIGN §4).
import { extractDags } from "./extractDags.js";

export interface ImportRequest {
  id: number;
  bundleFile: string;
  fileloc: string;
}

process.on("message", (msg: ImportRequest) => {
  void extractDags(msg.bundleFile, msg.fileloc).then(
    (result) => process.send?.({ id: msg.id, result }),
    (err: Error) => process.send?.({ id: msg.id, result: { error: { message: err.message, line: null, stack: err.stack ?? err.message } } }),
  );
});
// A stray rejection in a DAG file's top level must not take the importer down.
process.on("unhandledRejection", () => {});
process.on("disconnect", () => process.exit(0));
