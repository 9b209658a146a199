// One input of the trigger form, chosen by the param's JSON-Schema type.
import type { ParamSpec } from "../../api/types";

export type FieldValue = string | boolean;

/** The form's text for a param's default. */
export function initialValue(spec: ParamSpec): FieldValue {
  if (spec.type === "boolean") return Boolean(spec.default);
  if (spec.default === undefined || spec.default === null) return "";
  if (spec.type === "object" || spec.type === "array") return JSON.stringify(spec.default, null, 2);
  return typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
}

/** The conf value for a field; throws a message when the text is not of the param's type. */
export function parseValue(spec: ParamSpec, value: FieldValue): unknown {
  if (typeof value === "boolean") return value;
  if (spec.enum) return spec.enum.find((e) => (typeof e === "string" ? e : JSON.stringify(e)) === value) ?? value;
  switch (spec.type) {
    case "number":
    case "integer": {
      if (value.trim() === "") throw new Error("is required");
      const n = Number(value);
      if (Number.isNaN(n)) throw new Error("must be a number");
      return n;
    }
    case "object":
    case "array":
      try {
        return JSON.parse(value);
      } catch {
        throw new Error("must be valid JSON");
      }
    default:
      return value;
  }
}

export function ParamField({ name, spec, value, error, onChange }: { name: string; spec: ParamSpec; value: FieldValue; error?: string; onChange: (v: FieldValue) => void }) {
  const id = `param-${name}`;
  const label = spec.title ?? name;
  let input: React.ReactNode;
  if (spec.type === "boolean") {
    input = <input id={id} name={name} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (spec.enum) {
    input = (
      <select id={id} name={name} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        {spec.enum.map((e) => {
          const text = typeof e === "string" ? e : JSON.stringify(e);
          return (
            <option key={text} value={text}>
              {text}
            </option>
          );
        })}
      </select>
    );
  } else if (spec.type === "object" || spec.type === "array") {
    input = <textarea id={id} name={name} rows={4} value={String(value)} onChange={(e) => onChange(e.target.value)} />;
  } else {
    input = (
      <input
        id={id}
        name={name}
        type={spec.type === "number" || spec.type === "integer" ? "number" : "text"}
        step={spec.type === "integer" ? 1 : "any"}
        min={spec.minimum}
        max={spec.maximum}
        value={String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  return (
    <div className="field" data-param={name}>
      <label htmlFor={id}>
        {label} <span className="muted small">{spec.type ?? "any"}</span>
      </label>
      {input}
      {spec.description && <p className="muted small param-description">{spec.description}</p>}
      {error && (
        <p className="error inline-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
