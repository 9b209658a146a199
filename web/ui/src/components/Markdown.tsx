// DAG and task docs: Markdown rendered by react-markdown, which builds React elements and never
// injects HTML — raw HTML in a doc shows as text, and script never runs. Links are restricted
// to http(s)/mailto by react-markdown's default URL transform.
import ReactMarkdown from "react-markdown";

export function Markdown({ source }: { source: string }) {
  return (
    <div className="markdown" data-testid="markdown">
      <ReactMarkdown>{source}</ReactMarkdown>
    </div>
  );
}
