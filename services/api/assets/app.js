// The map page: listings from the API's vector tiles over offline state borders, a listing's
// consensus on click, a zip-code search, and the data-quality panel. Everything comes from this
// server; nothing is fetched from elsewhere.
"use strict";

maplibregl.setWorkerUrl("/assets/maplibre-gl-csp-worker.js");

const PRICE_COLOURS = ["interpolate", ["linear"], ["get", "price"],
  100000, "#2c7bb6", 300000, "#abd9e9", 500000, "#fdae61", 1000000, "#d7191c"];
const CONFIDENCE_COLOURS = ["interpolate", ["linear"], ["get", "confidence"],
  0.4, "#d7191c", 0.7, "#fdae61", 1.0, "#1a9641"];

const map = new maplibregl.Map({
  container: "map",
  center: [-97.7, 35.0],
  zoom: 3.2,
  maxZoom: 18,
  attributionControl: { compact: true, customAttribution: "Borders: US Census (us-atlas)" },
  style: {
    version: 8,
    sources: {
      borders: { type: "geojson", data: "/assets/us-borders.geojson" },
      listings: {
        type: "vector",
        tiles: [location.origin + "/tiles/{z}/{x}/{y}.mvt"],
        minzoom: 0,
        maxzoom: 16,
      },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#eef1f4" } },
      { id: "borders", type: "line", source: "borders",
        paint: { "line-color": "#8a94a6", "line-width": ["match", ["get", "kind"], "nation", 1.5, 0.8] } },
      { id: "clusters", type: "circle", source: "listings", "source-layer": "clusters",
        paint: {
          "circle-color": PRICE_COLOURS,
          "circle-opacity": 0.75,
          "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 3, 30, 22],
          "circle-stroke-color": "#fff", "circle-stroke-width": 0.5,
        } },
      { id: "listings", type: "circle", source: "listings", "source-layer": "listings",
        paint: {
          "circle-color": PRICE_COLOURS,
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 12, 3, 16, 7],
          "circle-stroke-color": "#fff", "circle-stroke-width": 1,
        } },
    ],
  },
});
map.addControl(new maplibregl.NavigationControl(), "top-left");
window.resiMap = map;

// county borders (half a megabyte) are fetched only once someone zooms in to where they help
const COUNTIES_FROM_ZOOM = 5;
function addCounties() {
  if (map.getZoom() < COUNTIES_FROM_ZOOM || map.getSource("counties")) return;
  map.addSource("counties", { type: "geojson", data: "/assets/us-counties.geojson" });
  map.addLayer({ id: "counties", type: "line", source: "counties", minzoom: COUNTIES_FROM_ZOOM,
    paint: { "line-color": "#b4bccb", "line-width": 0.5 } }, "borders");
}
map.on("zoomend", addCounties);
map.on("load", addCounties);

document.getElementById("colour").addEventListener("change", (event) => {
  const colours = event.target.value === "confidence" ? CONFIDENCE_COLOURS : PRICE_COLOURS;
  map.setPaintProperty("listings", "circle-color", colours);
  map.setPaintProperty("clusters", "circle-color", colours);
});

async function json(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${path}: ${response.status}`);
  }
  return response.json();
}

const text = (id, value) => { document.getElementById(id).textContent = value; };
const money = (value) => (value == null ? "—" : "$" + Number(value).toLocaleString("en-US"));
const percent = (value) => (value == null ? "—" : (value * 100).toFixed(1) + " %");
const shown = (value) => {
  if (value == null) return "—";
  if (typeof value === "object") return `${value.latitude.toFixed(5)}, ${value.longitude.toFixed(5)}`;
  return String(value);
};

// a listing's consensus, field by field, with the values it was chosen over
async function showListing(zpid) {
  const [consensus, detail] = await Promise.all([
    json(`/api/listing/${encodeURIComponent(zpid)}/consensus`),
    json(`/api/listing/${encodeURIComponent(zpid)}`),
  ]);
  const panel = document.getElementById("detail");
  panel.hidden = false;
  panel.dataset.zpid = zpid;
  text("detail-title", detail.consensus.address || `listing ${zpid}`);
  text("detail-summary",
    `${zpid} · ${money(detail.consensus.price)} · ${detail.consensus.home_status || "—"} · ` +
    `consensus ${percent(consensus.consensus_score)} (${consensus.confidence_level}) from ` +
    `${consensus.unique_miners} ${consensus.unique_miners === 1 ? "miner" : "miners"} · ` +
    `build ${consensus.consensus_version} (algorithm ${consensus.consensus_algorithm})`);
  const body = document.querySelector("#detail-fields tbody");
  body.replaceChildren();
  for (const [field, value] of Object.entries(consensus.fields)) {
    if (!value.chosen) continue;
    const row = body.insertRow();
    row.dataset.field = field;
    row.insertCell().textContent = field;
    row.insertCell().textContent = field === "price" ? money(value.chosen.value) : shown(value.chosen.value);
    row.insertCell().textContent = `${value.chosen.miners} (${percent(value.chosen.confidence)})`;
    row.insertCell().textContent = value.alternatives
      .map((other) => `${field === "price" ? money(other.value) : shown(other.value)} ×${other.miners}`)
      .join(", ");
  }
  const miners = new Set();
  for (const value of Object.values(consensus.fields)) {
    for (const each of [value.chosen, ...value.alternatives]) {
      if (each) each.supporters.forEach((miner) => miners.add(miner));
    }
  }
  text("detail-miners", "attested by " + [...miners].sort().join(", "));
}

map.on("click", "listings", (event) => {
  const feature = event.features && event.features[0];
  if (feature) showListing(feature.properties.zpid).catch(console.error);
});
map.on("click", "clusters", (event) => {
  map.easeTo({ center: event.lngLat, zoom: map.getZoom() + 3 });
});
for (const layer of ["listings", "clusters"]) {
  map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
}

// a zip code: frame its listings
document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const zip = document.getElementById("zip").value.trim();
  if (!/^[0-9]{5}$/.test(zip)) return;
  const page = await json(`/api/listings/${zip}?limit=500&attestations=0`);
  const located = page.listings.filter((each) => each.latitude != null && each.longitude != null);
  if (located.length === 0) return;
  // a zip code is a few kilometres across: a listing far from the median is one whose reported
  // coordinates (or zip code) are wrong, and must not drag the view to the middle of nowhere
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const centre = [median(located.map((each) => each.longitude)), median(located.map((each) => each.latitude))];
  const points = located.filter((each) =>
    Math.abs(each.longitude - centre[0]) <= 0.5 && Math.abs(each.latitude - centre[1]) <= 0.5);
  const bounds = new maplibregl.LngLatBounds();
  points.forEach((each) => bounds.extend([each.longitude, each.latitude]));
  // close enough to draw listings as points (tiles cluster below zoom 12)
  const camera = map.cameraForBounds(bounds, { padding: 60, maxZoom: 15 });
  map.jumpTo({ ...camera, zoom: Math.max(camera.zoom, 12.5) });
});

async function showQuality() {
  const [stats, quality, miners, openData] = await Promise.all([
    json("/api/stats"),
    json("/api/quality?limit=1"),
    json("/api/miners?limit=5").catch(() => ({ miners: [] })),
    json("/api/open-data?limit=1").catch(() => ({ snapshots: [] })),
  ]);
  text("quality-listings", stats.total_listings.toLocaleString("en-US"));
  text("quality-attestations", stats.total_attestations.toLocaleString("en-US"));
  text("quality-hours", quality.freshness.median_hours == null ? "—" : quality.freshness.median_hours.toFixed(1));
  text("quality-stale", percent(quality.freshness.stale_share));
  text("quality-completeness", percent(quality.mean_completeness));
  text("quality-misplaced", percent(quality.location.misplaced_share));
  text("quality-score", quality.agreement.median_score == null ? "—" : quality.agreement.median_score.toFixed(3));
  text("quality-version", quality.consensus_version);
  const levels = document.getElementById("quality-levels");
  levels.replaceChildren();
  const most = Math.max(1, quality.agreement.high, quality.agreement.medium, quality.agreement.low);
  for (const level of ["high", "medium", "low"]) {
    const row = document.createElement("div");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(160 * quality.agreement[level]) / most}px`;
    row.append(`${level} `, bar, ` ${quality.agreement[level]}`);
    levels.append(row);
  }
  const states = document.querySelector("#quality-states tbody");
  states.replaceChildren();
  for (const each of quality.states || []) {
    const row = document.createElement("tr");
    row.dataset.state = each.state;
    for (const value of [
      each.state,
      each.listings.toLocaleString("en-US"),
      each.zipcodes.toLocaleString("en-US"),
      // coverage needs an epoch that assigned the state's zip codes
      each.coverage == null ? "—" : percent(each.coverage),
      percent(each.stale_share),
    ]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    states.append(row);
  }
  const anomalies = stats.miner_anomalies;
  const flagged = (anomalies.miners || []).map((each) =>
    `${each.miner_hotkey} (${[each.rejection_spike && "rejections spiked", each.trust_fell && "trust fell"].filter(Boolean).join(", ")})`);
  text("quality-anomalies", flagged.length ? flagged.join("; ") : `none of ${anomalies.miners_active} active`);
  const list = document.getElementById("quality-miners");
  list.replaceChildren();
  for (const miner of miners.miners || []) {
    const item = document.createElement("li");
    item.textContent = `${miner.miner_hotkey} — trust ${Number(miner.trust_score).toFixed(3)}`;
    list.append(item);
  }
  const latest = openData.snapshots && openData.snapshots[0];
  const openDataText = document.getElementById("quality-open-data");
  if (latest) {
    const link = document.createElement("a");
    link.href = latest.manifest_url;
    link.textContent = `snapshot of ${latest.date} (${latest.listings.toLocaleString("en-US")} listings)`;
    openDataText.replaceChildren(link);
  } else {
    openDataText.textContent = "no snapshot yet";
  }
}
showQuality().catch(console.error);
