// Copies what the map page needs from npm into services/api/assets (committed: building the
// API needs no npm): MapLibre GL's CSP build (its worker is a file, so the page's
// Content-Security-Policy need not allow blob: scripts) and the US state and county borders from
// us-atlas (Census boundaries, public domain) as GeoJSON lines for the offline basemap.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mesh } from "topojson-client";

const out = new URL("../services/api/assets/", import.meta.url);
mkdirSync(out, { recursive: true });
const dist = new URL("./node_modules/maplibre-gl/dist/", import.meta.url);
for (const name of ["maplibre-gl-csp.js", "maplibre-gl-csp-worker.js", "maplibre-gl.css"]) {
  copyFileSync(new URL(name, dist), new URL(name, out));
}
const states = JSON.parse(
  readFileSync(new URL("./node_modules/us-atlas/states-10m.json", import.meta.url)),
);
// borders between states, and the nation's outline
const borders = {
  type: "FeatureCollection",
  features: [
    { type: "Feature", properties: { kind: "state" }, geometry: mesh(states, states.objects.states, (a, b) => a !== b) },
    { type: "Feature", properties: { kind: "nation" }, geometry: mesh(states, states.objects.nation) },
  ],
};
// five decimals (about a metre) are plenty for borders at national and state zoom
writeFileSync(
  new URL("us-borders.geojson", out),
  JSON.stringify(borders, (key, value) => (typeof value === "number" ? Math.round(value * 1e5) / 1e5 : value)),
);
// borders between counties of one state (state borders are drawn above), four decimals (about
// ten metres): the page loads them only once zoomed in to where they help
const counties = JSON.parse(
  readFileSync(new URL("./node_modules/us-atlas/counties-10m.json", import.meta.url)),
);
const countyBorders = {
  type: "FeatureCollection",
  features: [
    {
      type: "Feature",
      properties: { kind: "county" },
      geometry: mesh(counties, counties.objects.counties,
        (a, b) => a !== b && String(a.id).slice(0, 2) === String(b.id).slice(0, 2)),
    },
  ],
};
writeFileSync(
  new URL("us-counties.geojson", out),
  JSON.stringify(countyBorders, (key, value) => (typeof value === "number" ? Math.round(value * 1e4) / 1e4 : value)),
);
