// Entry point: styles, theme, live data, then the app into #app.

import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { App } from "./app.js";
import "./lib/theme.js";
import { startLive } from "./live.js";

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app element");
startLive();
render(<App />, root);
