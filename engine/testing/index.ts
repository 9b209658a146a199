// `import { testDag } from "updraft/testing"`: run a DAG in your own tests, in-process.
export { testDag, type TestDagOptions, type TestDagResult, type TestTaskResult, type TestLogLine } from "./testDag.js";
