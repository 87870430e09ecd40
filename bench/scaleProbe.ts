// A fresh process, as the program is on every preview: times lib/changeReport.ts contentsOf (every
// layer's contents from the .drv files, cold) and then lib/forecast.ts runForecast (as the program
// runs it, after the contents). Input: LAYERSTACK_PROBE (JSON: layers, nixConfig). Prints JSON.
import { contentsOf } from "../lib/changeReport";
import { runForecast } from "../lib/forecast";

const { layers, nixConfig } = JSON.parse(process.env.LAYERSTACK_PROBE!);
const t = () => Number(process.hrtime.bigint()) / 1e9;
const t0 = t();
contentsOf(layers);
const t1 = t();
const f = runForecast(layers, nixConfig);
const t2 = t();
console.log(JSON.stringify({ contents: t1 - t0, forecast: t2 - t1, build: f.dry.build.length, fetch: f.dry.fetch.length }));
