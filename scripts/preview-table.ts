// The preview's table as Markdown, for a CI job summary and a pull request's preview comment,
// from the report the program writes to $LAYERSTACK_PREVIEW_REPORT (lib/changeReport.ts).
//
//   TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/preview-table.ts --report report.json [--title T]
import * as fs from "fs";
import { PreviewReport, renderMarkdown } from "../lib/previewReport";

function main(argv: string[]): void {
    const arg = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
    const file = arg("--report");
    if (!file) {
        console.error("usage: preview-table.ts --report REPORT.json [--title TITLE]");
        process.exit(2);
    }
    const report = JSON.parse(fs.readFileSync(file, "utf8")) as PreviewReport & { stack?: string };
    process.stdout.write(renderMarkdown(report, arg("--title") ?? `layerstack${report.stack ? ` (${report.stack})` : ""}`));
}

if (require.main === module) main(process.argv.slice(2));
