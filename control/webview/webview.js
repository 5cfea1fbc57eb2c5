/*
 * The web view's script: polls the appliance's JSON every second and draws it. Read-only.
 * Endpoints (same origin): /api/stats (GetProxyStatsResponse), /api/sessions?state=&label=
 * &page_size=&page_token= (ListSessionsResponse), /api/session?id= ({"session": SessionInfo},
 * 404 when gone). JSON as control/pb_json.c prints it: proto field names, enums by name,
 * 64-bit integers as numbers (strings accepted too), non-finite doubles as "NaN" strings.
 * With ?token=T in the page's address every request carries "Authorization: Bearer T".
 * Text from the appliance (ids, labels, errors) only ever goes in through textContent.
 */
"use strict";
(function () {
	const POLL_MS = 1000;
	const HISTORY = 120;                  /* chart samples: two minutes at one per second */
	const COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];
	const STATES = ["created", "connecting", "active", "error", "closed"];
	const TOKEN = new URLSearchParams(location.search).get("token");

	const $ = (id) => document.getElementById(id);

	/* ---- values and their text ---- */

	function num(v) {
		if (typeof v === "number")
			return v;
		if (typeof v === "string" && v !== "")
			return Number(v);          /* 64-bit as a string, or "NaN"/"Infinity" */
		return 0;
	}
	function stateName(v) {
		if (typeof v === "number")
			return STATES[v] || String(v);
		return String(v || "SESSION_STATE_CREATED").replace(/^SESSION_STATE_/, "").toLowerCase();
	}
	function enumName(v, prefix) {
		return typeof v === "string" ? v.replace(prefix, "").toLowerCase() : String(v);
	}
	function fmtInt(v) {
		v = num(v);
		return Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–";
	}
	function fmtRate(v) {
		if (v === null || !Number.isFinite(v))
			return "–";
		if (v >= 1e6)
			return (v / 1e6).toFixed(2) + " M";
		if (v >= 1e4)
			return (v / 1e3).toFixed(1) + " k";
		return v >= 100 ? v.toFixed(0) : v.toFixed(1);
	}
	function fmtAxis(v) {
		if (v >= 1e6)
			return +(v / 1e6).toFixed(2) + "M";
		if (v >= 1e3)
			return +(v / 1e3).toFixed(2) + "k";
		return String(+v.toFixed(1));
	}
	function fmtFixed(v, digits) {
		v = num(v);
		return Number.isFinite(v) ? v.toFixed(digits) : "–";
	}
	function fmtPct(ratio) {
		ratio = num(ratio);
		if (!Number.isFinite(ratio))
			return "–";
		return ratio === 0 ? "0 %" : (ratio * 100).toFixed(ratio < 0.1 ? 2 : 1) + " %";
	}
	function fmtUptime(ms) {
		let s = Math.floor(num(ms) / 1000);
		const d = Math.floor(s / 86400);
		s %= 86400;
		const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60]
			.map((x) => String(x).padStart(2, "0")).join(":");
		return d > 0 ? `${d}d ${hms}` : hms;
	}
	function fmtTime(unixMs) {
		unixMs = num(unixMs);
		return unixMs > 0 ? new Date(unixMs).toLocaleString() : "–";
	}
	function fmtEndpoint(ep) {
		if (!ep || !ep.address)
			return "–";
		const a = ep.address.includes(":") ? `[${ep.address}]` : ep.address;
		return `${a}:${num(ep.port)}`;
	}

	/* ---- DOM helpers (text only) ---- */

	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = text;
		if (cls)
			e.className = cls;
		return e;
	}
	function cell(tr, text, cls, col) {
		const td = el("td", text, cls);
		if (col)
			td.dataset.col = col;
		tr.appendChild(td);
		return td;
	}
	function numCell(tr, text, raw, col) {
		return cell(tr, text, raw === 0 ? "num zero" : "num", col);
	}

	/* ---- fetching ---- */

	class HttpError extends Error {
		constructor(status, msg) {
			super(msg);
			this.status = status;
		}
	}
	async function api(path) {
		const headers = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
		const r = await fetch(path, { headers, cache: "no-store" });
		let body = null;
		try {
			body = await r.json();
		} catch (e) {
			body = null;
		}
		if (!r.ok) {
			const why = body && body.error ? body.error : r.statusText;
			throw new HttpError(r.status, `${r.status} ${why}`);
		}
		if (body === null || typeof body !== "object")
			throw new HttpError(r.status, `${path}: not a JSON object`);
		return body;
	}

	let lastError = null;
	function setStatus(ok, text) {
		const s = $("status");
		s.className = "status " + (ok ? "ok" : "bad");
		s.textContent = text;
	}
	function reportError(what, e) {
		lastError = e;
		const hint = e.status === 401 || e.status === 403 ?
			" (open the page with ?token=YOUR_TOKEN)" : "";
		setStatus(false, `${what}: ${e.message}${hint}`);
	}

	/* ---- proxy stats: ports, drops, workers ---- */

	let prev = null;                      /* the previous /api/stats answer and when */
	const series = new Map();             /* port name -> {rx: [...], tx: [...]} */

	function perSecond(cur, old, dt) {
		if (old === undefined || dt <= 0)
			return null;
		return Math.max(0, (num(cur) - num(old)) / dt);
	}

	function pushSample(name, rx, tx) {
		let s = series.get(name);
		if (!s) {
			s = { rx: [], tx: [] };
			series.set(name, s);
		}
		s.rx.push(rx);
		s.tx.push(tx);
		if (s.rx.length > HISTORY) {
			s.rx.shift();
			s.tx.shift();
		}
	}

	function renderPorts(ports, old, dt) {
		const tbody = $("ports").tBodies[0];
		const rows = [];
		for (const p of ports) {
			const o = old.get(p.name);
			const rx = perSecond(p.rx_packets, o && o.rx_packets, dt);
			const tx = perSecond(p.tx_packets, o && o.tx_packets, dt);
			const rxb = perSecond(p.rx_bytes, o && o.rx_bytes, dt);
			const txb = perSecond(p.tx_bytes, o && o.tx_bytes, dt);
			if (rx !== null)
				pushSample(p.name, rx, tx);
			const tr = el("tr");
			tr.dataset.port = p.name;
			cell(tr, p.name, null, "name");
			numCell(tr, fmtRate(rx), rx, "rx_pps");
			numCell(tr, fmtRate(tx), tx, "tx_pps");
			numCell(tr, rxb === null ? "–" : (rxb * 8 / 1e6).toFixed(2), rxb, "rx_mbps");
			numCell(tr, txb === null ? "–" : (txb * 8 / 1e6).toFixed(2), txb, "tx_mbps");
			numCell(tr, fmtInt(p.rx_packets), num(p.rx_packets), "rx_packets");
			numCell(tr, fmtInt(p.tx_packets), num(p.tx_packets), "tx_packets");
			numCell(tr, fmtInt(p.rx_missed), num(p.rx_missed), "rx_missed");
			numCell(tr, fmtInt(p.tx_failed), num(p.tx_failed), "tx_failed");
			numCell(tr, fmtInt(p.exception_packets), num(p.exception_packets), "exception");
			rows.push(tr);
		}
		tbody.replaceChildren(...rows);
		const live = new Set(ports.map((p) => p.name));
		for (const name of series.keys())
			if (!live.has(name))
				series.delete(name);
		drawChart();
	}

	function renderDrops(drops, old, dt) {
		const names = Object.keys(drops || {});
		names.sort((a, b) => num(drops[b]) - num(drops[a]) || a.localeCompare(b));
		const rows = names.map((name) => {
			const tr = el("tr");
			tr.dataset.reason = name;
			const total = num(drops[name]);
			const rate = perSecond(total, old ? old[name] : undefined, dt);
			cell(tr, name, total === 0 ? "zero" : null, "reason");
			numCell(tr, fmtRate(rate), rate, "rate");
			numCell(tr, fmtInt(total), total, "total");
			return tr;
		});
		if (rows.length === 0) {
			const tr = el("tr");
			cell(tr, "no drops", "zero").colSpan = 3;
			rows.push(tr);
		}
		$("drops").tBodies[0].replaceChildren(...rows);
	}

	function renderWorkers(workers, old, dt) {
		const rows = workers.map((w) => {
			const o = old.get(num(w.index));
			const tr = el("tr");
			tr.dataset.worker = num(w.index);
			cell(tr, `${num(w.index)} (lcore ${num(w.lcore)})`, null, "name");
			let busy = null, cpp = null, pps = null;
			if (o && dt > 0) {
				const cycles = num(w.busy_cycles) - num(o.busy_cycles);
				const relayed = num(w.relayed) - num(o.relayed);
				const hz = num(w.tsc_hz);
				if (hz > 0)
					busy = Math.min(1, Math.max(0, cycles / (dt * hz)));
				else if (num(w.iterations) > num(o.iterations))
					busy = (num(w.busy_iterations) - num(o.busy_iterations)) /
						(num(w.iterations) - num(o.iterations));
				cpp = relayed > 0 ? cycles / relayed : null;
				pps = Math.max(0, relayed / dt);
			}
			const td = cell(tr, null, null, "busy");
			const bar = el("span", null, "bar");
			const fill = el("b", null, busy > 0.9 ? "bad" : busy > 0.7 ? "warn" : null);
			fill.style.width = `${Math.round((busy || 0) * 100)}%`;
			bar.appendChild(fill);
			td.append(bar, el("span", busy === null ? "–" : fmtPct(busy), "pct"));
			numCell(tr, cpp === null ? "–" : fmtInt(cpp), cpp, "cycles_per_packet");
			numCell(tr, fmtRate(pps), pps, "relayed_pps");
			numCell(tr, fmtInt(w.relayed), num(w.relayed), "relayed");
			return tr;
		});
		$("workers").tBodies[0].replaceChildren(...rows);
	}

	async function pollStats() {
		const st = await api("/api/stats");
		const now = num(st.uptime_ms);
		/* Rates over the appliance's own clock; a restart (uptime going back) starts over. */
		const dt = prev && now > prev.uptime ? (now - prev.uptime) / 1000 : 0;
		const old = prev && dt > 0 ? prev : { ports: new Map(), drops: null, workers: new Map() };
		const ports = Array.isArray(st.ports) ? st.ports : [];
		const workers = Array.isArray(st.workers) ? st.workers : [];

		$("version").textContent = st.version ? "v" + st.version : "";
		$("uptime").textContent = fmtUptime(now);
		$("sess-active").textContent = fmtInt(st.sessions_active);
		$("sess-created").textContent = fmtInt(st.sessions_created_total);
		$("sess-closed").textContent = fmtInt(st.sessions_closed_total);
		renderPorts(ports, old.ports, dt);
		renderDrops(st.drops, old.drops, dt);
		renderWorkers(workers, old.workers, dt);
		prev = {
			uptime: now,
			ports: new Map(ports.map((p) => [p.name, p])),
			drops: Object.assign({}, st.drops),
			workers: new Map(workers.map((w) => [num(w.index), w])),
		};
	}

	/* ---- the chart: each port's rx (solid) and tx (dashed) packets per second ---- */

	function niceMax(v) {
		if (v <= 0)
			return 10;
		const p = Math.pow(10, Math.floor(Math.log10(v)));
		for (const m of [1, 2, 2.5, 5, 10])
			if (v <= m * p)
				return m * p;
		return 10 * p;
	}

	function drawChart() {
		const c = $("chart");
		const dpr = window.devicePixelRatio || 1;
		const w = c.clientWidth, h = c.clientHeight;
		if (w === 0 || h === 0)
			return;
		if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
			c.width = Math.round(w * dpr);
			c.height = Math.round(h * dpr);
		}
		const g = c.getContext("2d");
		const css = getComputedStyle(document.body);
		g.setTransform(dpr, 0, 0, dpr, 0, 0);
		g.clearRect(0, 0, w, h);
		const left = 52, right = 8, top = 8, bottom = 18;
		const pw = w - left - right, ph = h - top - bottom;
		let max = 0;
		for (const s of series.values())
			for (const v of s.rx.concat(s.tx))
				max = Math.max(max, v);
		max = niceMax(max);

		g.font = "10px system-ui, sans-serif";
		g.fillStyle = css.getPropertyValue("--dim") || "#888";
		g.strokeStyle = css.getPropertyValue("--line") || "#ddd";
		g.lineWidth = 1;
		g.textAlign = "right";
		g.textBaseline = "middle";
		for (let i = 0; i <= 4; i++) {
			const y = top + ph - (ph * i) / 4;
			g.beginPath();
			g.moveTo(left, Math.round(y) + 0.5);
			g.lineTo(left + pw, Math.round(y) + 0.5);
			g.stroke();
			g.fillText(fmtAxis((max * i) / 4), left - 6, y);
		}
		g.textAlign = "left";
		g.textBaseline = "alphabetic";
		g.fillText(`last ${HISTORY} s`, left, h - 4);
		g.textAlign = "right";
		g.fillText("now", left + pw, h - 4);

		const legend = [];
		let i = 0;
		for (const [name, s] of series) {
			const color = COLORS[i++ % COLORS.length];
			for (const [key, dash] of [["rx", []], ["tx", [5, 3]]]) {
				const pts = s[key];
				g.strokeStyle = color;
				g.lineWidth = 1.5;
				g.setLineDash(dash);
				g.beginPath();
				pts.forEach((v, k) => {
					const x = left + pw - ((pts.length - 1 - k) * pw) / (HISTORY - 1);
					const y = top + ph - (v / max) * ph;
					if (k === 0)
						g.moveTo(x, y);
					else
						g.lineTo(x, y);
				});
				g.stroke();
				g.setLineDash([]);
				if (key === "rx" && pts.length > 1) {  /* a light fill under rx */
					g.lineTo(left + pw, top + ph);
					g.lineTo(left + pw - ((pts.length - 1) * pw) / (HISTORY - 1), top + ph);
					g.closePath();
					g.globalAlpha = 0.08;
					g.fillStyle = color;
					g.fill();
					g.globalAlpha = 1;
				}
				const item = el("span", `${name} ${key}`);
				const sw = el("i", null, key === "tx" ? "dash" : null);
				sw.style.background = color;
				sw.style.borderColor = color;
				item.prepend(sw);
				legend.push(item);
			}
		}
		$("legend").replaceChildren(...legend);
	}

	/* ---- the session table: filters, pages ---- */

	const pages = [""];                   /* page tokens: pages[i] fetches page i+1 */
	let pageIndex = 0;
	let nextToken = "";
	let listSeq = 0;                      /* answers to an older query are dropped */
	let selectedId = null;
	const lastCounts = new Map();         /* id -> {pkts, t} for the pps column */

	function parseLabels(text) {
		const out = [];
		for (const part of text.split(",")) {
			const p = part.trim();
			if (p === "")
				continue;
			const eq = p.indexOf("=");
			if (eq <= 0)
				throw new Error(`label filter "${p}": expected key=value`);
			out.push(p);
		}
		return out;
	}

	function sessionsQuery() {
		const q = new URLSearchParams();
		const state = $("f-state").value;
		if (state)
			q.append("state", state);
		for (const l of parseLabels($("f-label").value))
			q.append("label", l);
		q.append("page_size", $("f-size").value);
		if (pages[pageIndex])
			q.append("page_token", pages[pageIndex]);
		return "/api/sessions?" + q.toString();
	}

	function sortedLabels(labels) {
		return Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
	}

	function dirText(fwd, rev, bidir, fmt) {
		return bidir ? `${fmt(fwd)} / ${fmt(rev)}` : fmt(fwd);
	}

	function sessionRow(s, now) {
		const st = s.stats || {}, rv = s.reverse_stats || {};
		const bidir = !!s.bidirectional;
		const tr = el("tr");
		tr.dataset.id = s.session_id;
		if (s.session_id === selectedId)
			tr.classList.add("selected");
		const sid = cell(tr, s.session_id, "sid", "id");
		sid.title = s.session_id;
		const state = stateName(s.state);
		cell(tr, null, null, "state").appendChild(el("span", state, "state state-" + state));
		cell(tr, fmtEndpoint(s.listen_endpoint), null, "listen");
		cell(tr, fmtEndpoint(s.forward_endpoint), null, "forward");
		cell(tr, fmtEndpoint(s.destination_endpoint), null, "destination");
		const labels = cell(tr, null, null, "labels");
		for (const [k, v] of sortedLabels(s.labels))
			labels.appendChild(el("span", `${k}=${v}`, "label"));
		const fwdPkts = num(st.packets_sent), revPkts = num(rv.packets_sent);
		numCell(tr, fmtInt(st.packets_received), num(st.packets_received), "fwd_packets");
		numCell(tr, bidir ? fmtInt(rv.packets_received) : "–", num(rv.packets_received), "rev_packets");
		const total = num(st.packets_received) + num(rv.packets_received);
		const last = lastCounts.get(s.session_id);
		const pps = last && now > last.t ? Math.max(0, (total - last.pkts) * 1000 / (now - last.t)) : null;
		lastCounts.set(s.session_id, { pkts: total, t: now });
		numCell(tr, fmtRate(pps), pps, "pps");
		numCell(tr, dirText(st.loss_rate, rv.loss_rate, bidir, fmtPct),
			num(st.packets_lost) + num(rv.packets_lost), "loss");
		numCell(tr, dirText(st.jitter_ms, rv.jitter_ms, bidir, (v) => fmtFixed(v, 2)),
			num(st.jitter_ms) + num(rv.jitter_ms), "jitter");
		numCell(tr, dirText(st.avg_latency_ms, rv.avg_latency_ms, bidir, (v) => fmtFixed(v, 3)),
			num(st.avg_latency_ms) + num(rv.avg_latency_ms), "latency");
		tr.title = `${fwdPkts} sent forward` + (bidir ? `, ${revPkts} sent back` : "");
		tr.addEventListener("click", () => select(s.session_id));
		return tr;
	}

	async function pollSessions() {
		let path;
		try {
			path = sessionsQuery();
			$("f-error").textContent = "";
		} catch (e) {
			$("f-error").textContent = e.message;
			return;
		}
		const seq = ++listSeq;
		let resp;
		try {
			resp = await api(path);
		} catch (e) {
			if (seq === listSeq && e.status === 400) {
				$("f-error").textContent = e.message;   /* a filter the server refused */
				return;
			}
			throw e;
		}
		if (seq !== listSeq)
			return;
		const list = Array.isArray(resp.sessions) ? resp.sessions : [];
		const now = performance.now();
		const rows = list.map((s) => sessionRow(s, now));
		const seen = new Set(list.map((s) => s.session_id));
		for (const id of lastCounts.keys())
			if (!seen.has(id))
				lastCounts.delete(id);
		$("sessions").tBodies[0].replaceChildren(...rows);
		$("sessions-empty").hidden = rows.length > 0;
		nextToken = resp.next_page_token || "";
		$("next").disabled = nextToken === "";
		$("prev").disabled = pageIndex === 0;
		$("page").textContent = `page ${pageIndex + 1}`;
	}

	function refilter() {
		pages.length = 1;
		pageIndex = 0;
		pollSessions().catch((e) => reportError("sessions", e));
	}

	/* ---- one session's detail ---- */

	function select(id) {
		selectedId = id;
		for (const tr of $("sessions").tBodies[0].rows)
			tr.classList.toggle("selected", tr.dataset.id === id);
		$("detail").hidden = false;
		$("d-id").textContent = id;
		$("d-gone").hidden = true;
		$("d-fields").replaceChildren();
		$("d-stats").tBodies[0].replaceChildren();
		pollDetail().catch((e) => reportError("session", e));
	}

	function renderDetail(s) {
		const fields = [
			["state", stateName(s.state)],
			["transport", enumName(s.transport, /^TRANSPORT_/)],
			["listen", fmtEndpoint(s.listen_endpoint)],
			["forward", fmtEndpoint(s.forward_endpoint)],
			["destination", fmtEndpoint(s.destination_endpoint)],
			["latched source", fmtEndpoint(s.latched_source)],
			["bidirectional", s.bidirectional ? "yes" : "no"],
			["rtcp", s.enable_rtcp ? "yes" : "no"],
			["latch mode", enumName(s.latch_mode, /^LATCH_MODE_/)],
			["strict source", s.strict_source ? "yes" : "no"],
			["idle timeout", `${num(s.idle_timeout_secs)} s`],
			["created", fmtTime(s.created_unix_ms)],
			["labels", sortedLabels(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "–"],
		];
		if (s.error_message)
			fields.push(["error", s.error_message]);
		const dl = [];
		for (const [k, v] of fields) {
			const dd = el("dd", v);
			dd.dataset.field = k;
			dl.push(el("dt", k), dd);
		}
		$("d-fields").replaceChildren(...dl);

		const dirs = [s.stats || {}, s.reverse_stats || {}, s.rtcp_stats || {}];
		const rows = [
			["packets received", "packets_received", fmtInt],
			["packets sent", "packets_sent", fmtInt],
			["bytes received", "bytes_received", fmtInt],
			["bytes sent", "bytes_sent", fmtInt],
			["packets lost", "packets_lost", fmtInt],
			["loss rate", "loss_rate", fmtPct],
			["packets dropped", "packets_dropped", fmtInt],
			["jitter ms", "jitter_ms", (v) => fmtFixed(v, 3)],
			["avg latency ms", "avg_latency_ms", (v) => fmtFixed(v, 3)],
			["max latency ms", "max_latency_ms", (v) => fmtFixed(v, 3)],
			["last activity", "last_activity_unix_ms",
				(v) => (num(v) > 0 ? new Date(num(v)).toLocaleTimeString() : "–")],
		].map(([title, key, fmt]) => {
			const tr = el("tr");
			tr.dataset.stat = key;
			cell(tr, title);
			for (const d of dirs)
				cell(tr, fmt(d[key]), "num");
			return tr;
		});
		$("d-stats").tBodies[0].replaceChildren(...rows);
	}

	async function pollDetail() {
		const id = selectedId;
		if (id === null || !$("d-gone").hidden)
			return;
		let resp;
		try {
			resp = await api("/api/session?id=" + encodeURIComponent(id));
		} catch (e) {
			if (e.status === 404 && id === selectedId) {
				$("d-gone").hidden = false;    /* destroyed, or closed and no longer retained */
				return;
			}
			throw e;
		}
		if (id === selectedId && resp.session)
			renderDetail(resp.session);
	}

	/* ---- the loop ---- */

	async function tick() {
		const started = performance.now();
		const jobs = [["stats", pollStats], ["sessions", pollSessions], ["session", pollDetail]];
		const results = await Promise.allSettled(jobs.map(([, fn]) => fn()));
		const failed = results.findIndex((r) => r.status === "rejected");
		if (failed >= 0)
			reportError(jobs[failed][0], results[failed].reason);
		else
			setStatus(true, "live · " + new Date().toLocaleTimeString());
		document.body.dataset.updates = String(num(document.body.dataset.updates) + 1);
		setTimeout(tick, Math.max(100, POLL_MS - (performance.now() - started)));
	}

	$("filters").addEventListener("submit", (e) => e.preventDefault());
	$("f-state").addEventListener("change", refilter);
	$("f-size").addEventListener("change", refilter);
	let labelTimer = null;
	$("f-label").addEventListener("input", () => {
		clearTimeout(labelTimer);
		labelTimer = setTimeout(refilter, 300);
	});
	$("next").addEventListener("click", () => {
		if (nextToken === "")
			return;
		pages.length = pageIndex + 1;
		pages.push(nextToken);
		pageIndex++;
		pollSessions().catch((e) => reportError("sessions", e));
	});
	$("prev").addEventListener("click", () => {
		if (pageIndex === 0)
			return;
		pageIndex--;
		pollSessions().catch((e) => reportError("sessions", e));
	});
	$("d-close").addEventListener("click", () => {
		selectedId = null;
		$("detail").hidden = true;
		for (const tr of $("sessions").tBodies[0].rows)
			tr.classList.remove("selected");
	});
	window.addEventListener("resize", drawChart);
	tick();
})();
