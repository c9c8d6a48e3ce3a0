// Drives the API's map page in Debian's Chromium (headless, software WebGL) with
// playwright-core and prints, as JSON, what a person would see: listings drawn after searching
// a zip code, the detail panel after clicking one, and the data-quality panel.
// Usage: node map_page.mjs BASE_URL ZIP SCREENSHOT
import { createRequire } from "node:module";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [base, zip, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.RESI_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
});
const result = { errors: [], tiles: 0, county_fetches: 0 };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => result.errors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") result.errors.push(message.text()); });
  page.on("response", (response) => {
    if (response.status() >= 400) result.errors.push(`${response.status()} ${response.url()}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin !== new URL(base).origin) result.errors.push(`fetched elsewhere: ${url}`);
    if (url.pathname.startsWith("/tiles/")) result.tiles += 1;
    if (url.pathname === "/assets/us-counties.geojson") result.county_fetches += 1;
  });
  await page.goto(base, { waitUntil: "load" });
  const idle = () => page.waitForFunction(
    () => window.resiMap && window.resiMap.loaded() && window.resiMap.areTilesLoaded(),
    null, { timeout: 60000 });
  await idle();
  result.clusters = await page.evaluate(
    () => window.resiMap.queryRenderedFeatures({ layers: ["clusters"] }).length);
  result.county_fetches_at_start = result.county_fetches;

  // the quality panel, once filled
  await page.waitForFunction(() => document.getElementById("quality-listings").textContent !== "…", null, { timeout: 30000 });
  result.quality_listings = Number((await page.textContent("#quality-listings")).replace(/,/g, ""));
  result.quality_version = await page.textContent("#quality-version");
  result.quality_states = await page.$$eval("#quality-states tbody tr", (rows) =>
    rows.map((row) => [...row.cells].map((cell) => cell.textContent)));
  result.quality_anomalies = await page.textContent("#quality-anomalies");
  result.quality_misplaced = await page.textContent("#quality-misplaced");

  // search a zip code: the map frames it and draws its listings as points
  await page.fill("#zip", zip);
  await page.click("#search button");
  await page.waitForFunction(() => window.resiMap.getZoom() >= 12, null, { timeout: 30000 })
    .catch(async (error) => {
      const zoom = await page.evaluate(() => window.resiMap.getZoom());
      const probe = await page.evaluate(async (zip) => {
        const response = await fetch(`/api/listings/${zip}?limit=500&attestations=0`);
        const body = await response.json();
        return [response.status, (body.listings || []).length, JSON.stringify(body).slice(0, 300)];
      }, zip);
      throw new Error(`zoom ${zoom} after the search (${JSON.stringify(probe)}): ${error}`);
    });
  await idle();
  await page.waitForFunction(
    () => window.resiMap.queryRenderedFeatures({ layers: ["listings"] }).length > 0, null, { timeout: 30000 });
  // zoomed in, the county borders are loaded too
  await page.waitForFunction(
    () => window.resiMap.getSource("counties") && window.resiMap.isSourceLoaded("counties"), null, { timeout: 30000 });
  result.counties_loaded = true;
  const target = await page.evaluate(() => {
    const map = window.resiMap;
    const features = map.queryRenderedFeatures({ layers: ["listings"] });
    const canvas = map.getCanvas().getBoundingClientRect();
    // the feature nearest the centre, so that no control covers it
    const centre = map.project(map.getCenter());
    let best = null;
    for (const feature of features) {
      const point = map.project(feature.geometry.coordinates);
      const distance = Math.hypot(point.x - centre.x, point.y - centre.y);
      if (!best || distance < best.distance) {
        best = { zpid: feature.properties.zpid, price: feature.properties.price, x: canvas.left + point.x, y: canvas.top + point.y, distance };
      }
    }
    return { rendered: features.length, zoom: map.getZoom(), ...best };
  });
  Object.assign(result, target);

  // click it: the panel shows its consensus
  await page.mouse.click(target.x, target.y);
  await page.waitForFunction(
    (zpid) => document.getElementById("detail").dataset.zpid === zpid, target.zpid, { timeout: 30000 });
  result.panel_summary = await page.textContent("#detail-summary");
  result.panel_price = await page.textContent('#detail-fields tr[data-field="price"] td:nth-child(2)');
  result.panel_miners = await page.textContent("#detail-miners");
  await page.screenshot({ path: screenshot });
} catch (error) {
  result.failure = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exitCode = result.failure ? 1 : 0;
