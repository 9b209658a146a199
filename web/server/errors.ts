// Every error leaves the API here, once (CONVENTIONS: unknown throws are normalised at the
// boundary): 4xx as Airflow's `{detail}` or HTTPValidationError, anything unexpected as a logged
// 500 whose body says nothing about internals.
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { UpdraftError, ValidationError } from "../../engine/errors.js";
import { RequestValidationError } from "./validate.js";
import { isInputDbError } from "../../engine/store/sqlstate.js";

export function badRequest(detail: string): UpdraftError {
  return new UpdraftError(detail, "bad_request", 400);
}

/** Errors raised by body-parser carry a `type` and an HTTP status. */
interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
  body?: string;
}

export const notFoundRoute: RequestHandler = (_req, res) => {
  res.status(404).json({ detail: "Not Found" });
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // A streamed answer (ndjson logs) failed midway: all we can do is cut the connection.
      logger.error({ err, method: req.method, url: req.originalUrl }, "request failed after the response started");
      return next(err);
    }
    if (err instanceof RequestValidationError) {
      res.status(422).json({ detail: err.detail });
      return;
    }
    if (err instanceof ValidationError) {
      res.status(422).json({ detail: [{ type: "value_error", loc: ["body", ...err.field], msg: err.message, input: null }] });
      return;
    }
    if (err instanceof UpdraftError && err.status >= 400 && err.status < 500) {
      if (err.status === 401) res.set("WWW-Authenticate", "Bearer");
      res.status(err.status).json({ detail: err.message });
      return;
    }
    const parserError = err as BodyParserError;
    if (parserError?.type === "entity.parse.failed") {
      // FastAPI's answer to malformed JSON: 422, the position of the error, nothing stored.
      const position = Number(/position (\d+)/.exec(parserError.message)?.[1] ?? 0);
      res.status(422).json({
        detail: [{ type: "json_invalid", loc: ["body", position], msg: "JSON decode error", input: {}, ctx: { error: parserError.message } }],
      });
      return;
    }
    if (parserError?.type === "entity.too.large") {
      res.status(413).json({ detail: "Request body is too large" });
      return;
    }
    if (err instanceof URIError && parserError.status === 400) {
      // A path parameter that is not valid percent-encoding (router's decodeParam).
      res.status(400).json({ detail: "Malformed percent-encoding in the path" });
      return;
    }
    if (parserError?.expose && parserError.status && parserError.status >= 400 && parserError.status < 500) {
      res.status(parserError.status).json({ detail: parserError.message });
      return;
    }
    if (isInputDbError(err)) {
      // A value the database cannot hold or compare (a NUL byte, a number out of range): bad input.
      logger.debug({ err, method: req.method, url: req.originalUrl }, "request value refused by the database");
      res.status(422).json({ detail: [{ type: "value_error", loc: ["request"], msg: "A value in the request cannot be stored or compared (NUL byte, out of range, or too long)", input: null }] });
      return;
    }
    logger.error({ err, method: req.method, url: req.originalUrl }, "request failed");
    res.status(500).json({ detail: "Internal Server Error" });
  };
}
