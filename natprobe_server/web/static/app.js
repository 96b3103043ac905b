// natprobe web checker: one more client of the echo server's HTTP API (/v1/whoami, /v1/probe,
// /v1/dns, /v1/exposure), and /v1/explain for natprobe's verdicts and findings. Everything the
// page says comes from the server's catalog; this script only measures and lays out.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("natprobe-config").textContent);
  const S = config.strings;
  const $ = (id) => document.getElementById(id);
  const MAX_PORTS = config.max_ports;
  const PROBE_CONCURRENCY = 3; // the API runs at most 4 probes at once per address

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, k) => (k in values && values[k] !== null && values[k] !== undefined ? String(values[k]) : m));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  async function api(path, body, origin) {
    const options = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    };
    options.credentials = "omit";
    options.cache = "no-store";
    let response;
    try {
      response = await fetch((origin || "") + path, options);
    } catch (err) {
      return {ok: false, status: 0, error: String(err.message || err)};
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      const message = data && data.error ? data.error.message : response.statusText;
      return {ok: false, status: response.status, error: message, data, retryAfter: Number(response.headers.get("Retry-After"))};
    }
    return {ok: true, status: response.status, data};
  }

  // --- public address per family ---------------------------------------------------------------
  const publics = {};
  async function showFamilies() {
    const list = $("families");
    const entries = Object.entries(config.families);
    await Promise.all(entries.map(async ([family, origin]) => {
      const item = el("li", {"data-family": family}, S.pending);
      list.append(item);
      const result = await api("/v1/whoami", undefined, origin);
      const name = S["family_" + family];
      if (result.ok) {
        publics[family] = result.data.ip;
        item.dataset.publicIp = result.data.ip;
        item.dataset.works = "true";
        item.textContent = fill(S.family_works, {family: name, address: result.data.ip});
      } else {
        item.dataset.works = "false";
        item.textContent = result.status === 0
          ? fill(S.family_unreachable, {family: name})
          : fill(S.family_fails, {family: name, error: result.error});
      }
    }));
  }

  // --- WebRTC mapping ---------------------------------------------------------------------------
  async function gatherMapping() {
    const stun = config.stun;
    if (!stun) return null;
    if (typeof RTCPeerConnection !== "function") return {webrtc: false};
    const byUrl = {};
    for (const [test, url] of Object.entries(stun)) byUrl[url] = test;
    const candidates = [];
    const failed = new Set();
    let pc;
    try {
      pc = new RTCPeerConnection({iceServers: Object.values(stun).map((url) => ({urls: url}))});
    } catch (err) {
      return {webrtc: false};
    }
    const done = new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000); // gathering ends well before in practice
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      };
    });
    pc.onicecandidateerror = (event) => { if (byUrl[event.url]) failed.add(byUrl[event.url]); };
    pc.onicecandidate = (event) => {
      const c = event.candidate;
      if (!c || c.type !== "srflx") return;
      const test = byUrl[c.url || event.url];
      if (test && c.address && c.port) candidates.push({test, ip: c.address, port: c.port});
    };
    pc.createDataChannel("natprobe");
    await pc.setLocalDescription(await pc.createOffer());
    await done;
    pc.close();
    return {webrtc: true, candidates: candidates.slice(0, 3), failed: [...failed].filter((t) => !candidates.some((c) => c.test === t))};
  }

  // --- the port list ----------------------------------------------------------------------------
  function parsePorts(text, protocol) {
    const specs = [];
    for (const part of text.split(/[\s,]+/).filter(Boolean)) {
      const m = /^(\d{1,5})(?::([a-z]+))?$/.exec(part.toLowerCase());
      const port = m ? Number(m[1]) : 0;
      const service = m ? m[2] || null : null;
      if (!m || port < 1 || port > 65535) throw new Error(fill(S.bad_ports, {text: part}));
      if (service && (!config.services[service] || config.services[service][0] !== protocol)) throw new Error(fill(S.bad_ports, {text: part}));
      specs.push({protocol, port, service});
    }
    return specs;
  }

  function planFor(spec, host, jamulus) {
    // The CLI's choice of what to speak on a port (natprobe.verdicts.reachability's tables).
    let mode = spec.service ? config.services[spec.service][1] : config.well_known[spec.protocol + "/" + spec.port];
    if (spec.protocol === "udp" && (jamulus || spec.port === config.jamulus_port)) mode = "jamulus";
    if (spec.protocol === "udp" && mode !== "jamulus") return null; // not probed: told why by /v1/explain
    const request = {protocol: spec.protocol, port: spec.port, mode: mode || "connect"};
    if (host && config.host_modes.includes(request.mode)) request.host = host;
    return request;
  }

  // --- rendering --------------------------------------------------------------------------------
  function details(answer) {
    if (!answer) return null;
    const r = answer.result;
    if (answer.mode === "jamulus" && r.answered) {
      return fill(S.jamulus_answer, {version: r.version || "?", os: r.os || "?", clients: r.clients ?? "?", rtt: r.rtt_ms ?? "?"});
    }
    const lines = [];
    if (r.status !== undefined && r.status !== null) lines.push(fill(S.http_answer, {status: r.status, server: r.server_header || ""}).trim());
    if (r.tls) {
      const trust = r.tls.verified ? S.tls_trusted : fill(S.tls_untrusted, {error: r.tls.verify_error || "?"});
      lines.push(fill(S.tls_cert, {name: r.tls.subject_cn || (r.tls.san || []).join(", ") || "?", expiry: r.tls.not_after || "?", trust}));
    }
    if (r.banner) lines.push(fill(S.ssh_answer, {banner: r.banner}));
    return lines.length ? lines.join(" · ") : null;
  }

  function statusWord(port) {
    if (port.reachable === true) return S.status_reachable;
    if (port.reachable === false) return S.status_unreachable;
    return S.status_untested;
  }

  function renderPort(item, port, answer) {
    item.dataset.status = port.status;
    item.dataset.family = port.family;
    item.dataset.reachable = String(port.reachable);
    item.replaceChildren(
      el("strong", {}, `${port.protocol.toUpperCase()} ${port.port} (${S["family_" + port.family]}): ${statusWord(port)}`
        + (statusWord(port) === port.status ? "" : ` (${port.status})`)),
      el("span", {class: "reason"}, port.reason),
    );
    const more = details(answer);
    if (more) item.append(el("div", {class: "details"}, more));
    if (port.proof) item.append(el("div", {class: "proof"}, fill(S.proof, {proof: port.proof})));
    if (port.advice.length) item.append(el("ul", {class: "advice"}, ...port.advice.map((a) => el("li", {}, a))));
  }

  function renderFinding(f) {
    const node = el("article", {class: "finding", "data-finding-code": f.code, "data-severity": f.severity},
      el("strong", {}, f.title), el("p", {}, f.detail));
    if (f.advice.length) node.append(el("ul", {}, ...f.advice.map((a) => el("li", {}, a))));
    return node;
  }

  // --- one check --------------------------------------------------------------------------------
  let run = 0;
  async function check(options) {
    const error = $("form-error");
    error.textContent = "";
    let specs;
    try {
      specs = [...parsePorts($("tcp").value, "tcp"), ...parsePorts($("udp").value, "udp")];
    } catch (err) { error.textContent = err.message; return; }
    if (!specs.length) { error.textContent = S.no_ports; return; }
    if (specs.length > MAX_PORTS) { error.textContent = fill(S.too_many_ports, {count: MAX_PORTS}); return; }
    const host = $("host").value.trim();
    const jamulus = options.preset || $("jamulus").checked;
    const mine = ++run;
    $("results").hidden = false;
    const portsList = $("ports");
    portsList.replaceChildren();
    $("findings").replaceChildren();
    $("path").textContent = "";
    $("share").value = "";
    $("mapping").dataset.mapping = "";
    $("mapping").textContent = S.webrtc_running;
    const family = Object.keys(publics)[0] || "ipv4";
    const items = new Map();
    const answers = [];
    const untested = [];
    const plans = [];
    for (const spec of specs) {
      const key = spec.protocol + "/" + spec.port;
      if (items.has(key)) continue;
      const item = el("li", {class: "port", "data-protocol": spec.protocol, "data-port": String(spec.port),
        "data-family": family, "data-status": "pending"}, `${spec.protocol.toUpperCase()} ${spec.port}: ${S.pending}`);
      items.set(key, item);
      portsList.append(item);
      const plan = planFor(spec, host, jamulus);
      if (plan) plans.push(plan); else untested.push({protocol: spec.protocol, port: spec.port});
    }
    let mapping = null;
    let dns = null;
    let explaining = Promise.resolve();
    let latest = 0;
    const explain = () => {
      const body = {lang: config.lang, probes: answers.map((a) => a.answer), untested, jamulus,
        public: Object.values(publics)};
      if (mapping) body.mapping = mapping;
      if (dns) body.dns = dns;
      const serial = ++latest;
      explaining = explaining.then(async () => {
        const result = await api("/v1/explain", body);
        if (mine !== run || serial !== latest) return;
        if (!result.ok) { error.textContent = fill(S.error, {error: result.error}); return; }
        render(result.data);
      });
      return explaining;
    };
    const render = (data) => {
      const byKey = new Map(answers.map((a) => [a.answer.protocol + "/" + a.answer.target.port, a.answer]));
      for (const port of data.ports) {
        const item = items.get(port.protocol + "/" + port.port);
        if (item) renderPort(item, port, byKey.get(port.protocol + "/" + port.port));
      }
      if (data.mapping) {
        $("mapping").dataset.mapping = data.mapping.mapping;
        $("mapping").textContent = `${data.mapping.mapping}: ${data.mapping.reason}`;
      }
      const dnsList = $("dns");
      dnsList.replaceChildren(...data.dns.map((d) => el("li", {"data-family": d.family, "data-dns-verdict": d.verdict},
        el("strong", {}, `${S["family_" + d.family]}: ${d.verdict}`), " ", d.reason,
        d.advice.length ? el("ul", {}, ...d.advice.map((a) => el("li", {}, a))) : null)));
      $("dns-block").hidden = data.dns.length === 0;
      $("findings").replaceChildren(...data.findings.map(renderFinding));
      $("path").textContent = data.path;
      $("share").value = data.share;
    };
    const tasks = [];
    tasks.push(gatherMapping().then((m) => {
      mapping = m;
      if (!m) $("mapping").textContent = "";
      return explain();
    }));
    if (host) {
      tasks.push(api("/v1/dns", {name: host}).then((result) => { if (result.ok) { dns = result.data; return explain(); } }));
    }
    const queue = plans.slice();
    const worker = async () => {
      while (queue.length && mine === run) {
        const plan = queue.shift();
        let result = await api("/v1/probe", plan);
        for (let attempt = 0; attempt < 3 && result.status === 429 && mine === run; attempt++) {
          // The server's own pace (a burst, then one probe a second per address): wait as told, bounded.
          const wait = Math.min(Math.max(result.retryAfter || 1, 1), 5);
          await new Promise((resolve) => setTimeout(resolve, wait * 1000));
          result = await api("/v1/probe", plan);
        }
        const item = items.get(plan.protocol + "/" + plan.port);
        if (!result.ok) {
          item.dataset.status = "error";
          item.textContent = `${plan.protocol.toUpperCase()} ${plan.port}: ${fill(S.error, {error: result.error})}`;
          continue;
        }
        answers.push({answer: result.data});
        await explain();
      }
    };
    for (let i = 0; i < PROBE_CONCURRENCY; i++) tasks.push(worker());
    if (!plans.length) tasks.push(explain());
    await Promise.all(tasks);
    await explaining;
    document.body.dataset.done = String(mine);
  }

  // --- exposure ---------------------------------------------------------------------------------
  async function exposure() {
    const box = $("exposure-results");
    box.replaceChildren(el("p", {}, S.exposure_running));
    const result = await api("/v1/exposure", {});
    if (!result.ok) {
      box.replaceChildren(el("p", {class: "problem", "data-http-status": String(result.status)}, result.error));
      return;
    }
    const rows = result.data.ports.filter((p) => p.state === "open").map((p) => el("li", {class: "port",
      "data-protocol": p.protocol, "data-port": String(p.port), "data-status": p.state},
      fill(S.exposure_row, {protocol: p.protocol.toUpperCase(), port: p.port, state: p.state, service: p.service || ""})));
    // The grades and their findings are natprobe exposure's, from /v1/explain.
    const graded = await api("/v1/explain", {lang: config.lang, exposure: result.data});
    const findings = graded.ok ? graded.data.findings.map(renderFinding) : [el("p", {class: "problem"}, fill(S.error, {error: graded.error}))];
    box.replaceChildren(rows.length ? el("ul", {}, ...rows) : el("p", {}, S.exposure_none), ...findings);
    box.dataset.done = "true";
  }

  // --- wiring -----------------------------------------------------------------------------------
  function preset() {
    $("udp").value = String(config.jamulus_port);
    $("jamulus").checked = true;
    return check({preset: true});
  }

  document.addEventListener("DOMContentLoaded", () => {
    const families = showFamilies();
    $("check-form").addEventListener("submit", (event) => { event.preventDefault(); check({preset: false}); });
    $("jamulus-preset").addEventListener("click", preset);
    $("exposure").addEventListener("click", exposure);
    $("copy").addEventListener("click", async () => {
      const text = $("share");
      try {
        await navigator.clipboard.writeText(text.value);
        $("copy-status").textContent = S.copied;
      } catch (err) {
        text.select();
        $("copy-status").textContent = document.execCommand && document.execCommand("copy") ? S.copied : S.copy_failed;
      }
    });
    const query = new URLSearchParams(location.search);
    $("tcp").value = query.get("tcp") || "";
    $("udp").value = query.get("udp") || "";
    $("host").value = query.get("host") || "";
    $("jamulus").checked = query.get("jamulus") === "1";
    families.then(() => {
      if (config.preset === "jamulus") return preset();
      if (query.get("tcp") || query.get("udp")) return check({preset: false});
      return null;
    }).finally(() => { document.body.dataset.ready = "true"; });
  });
})();
