// The designer's pages: draw Mermaid diagrams, run the simulator, and check a draft as it is
// edited (the machine's change form).
// Mermaid is the project's own copy (vendor/mermaid.min.js): nothing comes from a CDN.
(function () {
  "use strict";

  let drawings = 0;

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Draw `source` into `container`; data-rendered tells tests (and people) how it went.
  // Answers the id Mermaid's node and edge ids start with, or null when drawing failed.
  async function draw(container, source) {
    drawings += 1;
    const id = "sc-svg-" + drawings;
    try {
      const { svg } = await window.mermaid.render(id, source);
      container.innerHTML = svg;
      container.classList.remove("sc-error");
      container.dataset.rendered = "true";
      return id;
    } catch (error) {
      container.textContent = String(error && error.message ? error.message : error);
      container.classList.add("sc-error");
      container.dataset.rendered = "error";
      return null;
    }
  }

  function el(tag, attributes, ...children) {
    const element = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([key, value]) => {
      if (key === "class") element.className = value;
      else element.setAttribute(key, value);
    });
    children.forEach((child) => element.append(child));
    return element;
  }

  function setupSimulator(form) {
    const text = readJson("sc-simulator-text") || {};
    const runUrl = readJson("sc-run-url");
    const rows = document.getElementById("sc-steps");
    const template = document.getElementById("sc-step-template");
    const results = document.getElementById("sc-results");
    const diagram = document.getElementById("sc-diagram");

    function renumber() {
      rows.querySelectorAll(".sc-step-number").forEach((cell, index) => {
        cell.textContent = String(index + 1);
      });
    }

    function addStep() {
      const row = template.content.firstElementChild.cloneNode(true);
      row.querySelector(".sc-step-remove").addEventListener("click", () => {
        row.remove();
        renumber();
      });
      rows.append(row);
      renumber();
      row.querySelector(".sc-step-event").focus();
    }

    // The steps as the endpoint wants them, or null after marking the bad contexts.
    function collectSteps() {
      let ok = true;
      const steps = [];
      rows.querySelectorAll(".sc-step-row").forEach((row) => {
        const error = row.querySelector(".sc-step-error");
        error.textContent = "";
        const event = row.querySelector(".sc-step-event").value.trim();
        const role = row.querySelector(".sc-step-role").value.trim();
        const raw = row.querySelector(".sc-step-context").value.trim();
        let context = {};
        if (raw) {
          try {
            context = JSON.parse(raw);
          } catch (e) {
            context = null;
          }
          if (context === null || typeof context !== "object" || Array.isArray(context)) {
            error.textContent = text.badJson;
            ok = false;
          }
        }
        if (event) steps.push({ event: event, role: role === "" ? null : Number(role), context: context });
      });
      return ok ? steps : null;
    }

    function showError(body) {
      const problems = (body.details && body.details.problems) || [];
      results.replaceChildren(
        el("p", { class: "sc-error", id: "sc-run-error" }, (body.code ? body.code + ": " : "") + body.message),
        el("ul", { class: "sc-problems" }, ...problems.map((p) => el("li", { class: "sc-error" }, p.message)))
      );
    }

    function showResult(body) {
      const table = el(
        "table",
        { class: "sc-step-results", id: "sc-step-results" },
        el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, text.event), el("th", {}, text.outcome), el("th", {}, text.path)))
      );
      const tbody = el("tbody");
      body.steps.forEach((step, index) => {
        let outcome, path;
        if (step.ok) {
          outcome = el("span", { class: "sc-ok" }, "✓ " + step.outcome.fromState + " → " + step.outcome.toState);
          path = [step.outcome.path.map((hop) => hop.fromState + " → " + hop.toState).join(", ")];
          if (step.enterAction) path.push(el("div", { class: "sc-muted sc-enter-action" }, text.enterAction + " " + step.enterAction));
          if (step.errorTarget) path.push(el("div", { class: "sc-muted sc-error-target" }, text.errorTarget + " " + step.errorTarget));
        } else {
          outcome = el("span", { class: "sc-error" }, "✗ " + step.error.code);
          path = step.error.message;
        }
        tbody.append(
          el("tr", { class: step.ok ? "sc-step-ok" : "sc-step-failed", "data-step": String(index + 1) },
            el("td", {}, String(index + 1)), el("td", {}, step.event), el("td", {}, outcome), el("td", {}, ...[].concat(path)))
        );
      });
      table.append(tbody);
      results.replaceChildren(
        table,
        el("p", { id: "sc-end-state" }, text.endState + ": ", el("strong", {}, body.state)),
        el("p", { class: "sc-muted" }, text.visited + ": " + body.visited.join(" → "))
      );
      return draw(diagram, body.diagram);
    }

    async function run(submitEvent) {
      submitEvent.preventDefault();
      const steps = collectSteps();
      if (steps === null) return;
      if (!steps.length) {
        results.replaceChildren(el("p", { class: "sc-error" }, text.noSteps));
        return;
      }
      results.dataset.state = "running";
      const response = await fetch(runUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
        body: JSON.stringify({ state: document.getElementById("sc-start").value, steps: steps }),
      });
      let body;
      try {
        body = await response.json();
      } catch (e) {
        body = { message: response.status + " " + response.statusText };
      }
      if (response.ok) await showResult(body);
      else showError(body);
      results.dataset.state = "done";
    }

    document.getElementById("sc-add-step").addEventListener("click", addStep);
    form.addEventListener("submit", run);
    addStep();
  }

  // The draft editor: the states and transitions rows, as the save would send them, go to
  // the live check (designer/admin/live.py) each time the designer stops typing; its answer
  // puts each problem next to its row and redraws the diagram, whose states and transitions
  // lead back to their rows when clicked.
  const TEXT_FIELDS = {
    source: "sourceState",
    target: "targetState",
    event: "eventValue",
    event_desc: "eventDesc",
    desc: "transitionDesc",
    roles: "eventRole",
    show_condition: "showCondition",
    guard_condition: "guardCondition",
    case_condition: "caseCondition",
    case_order: "caseOrder",
    action: "transitionAction",
    timer_seconds: "timerSeconds",
    error_target: "errorTarget",
  };
  const YES = 1;
  const NO = 2;
  const DELAY = 350; // milliseconds of quiet before a check

  function setupEditor(live) {
    const form = live.closest("form");
    const text = readJson("sc-live-text") || {};
    const status = document.getElementById("sc-live-status");
    const diagram = document.getElementById("sc-diagram");
    let timer = null;
    let sent = 0; // checks started; only the latest one's answer is shown
    let controller = null;

    function input(row, name) {
      return row.querySelector('[name="' + row.id + "-" + name + '"]');
    }

    function value(row, name) {
      const field = input(row, name);
      const raw = field ? field.value.trim() : "";
      return raw === "" ? null : raw;
    }

    function checked(row, name) {
      const field = input(row, name);
      return Boolean(field && field.checked);
    }

    function rowsOf(prefix) {
      return Array.from(document.querySelectorAll("#" + prefix + "-group tr.form-row")).filter(
        (row) => !row.classList.contains("empty-form") && /-\d+$/.test(row.id)
      );
    }

    // A row the save keeps: not marked for deletion, and not a new row left untouched.
    function kept(row, untouched) {
      if (checked(row, "DELETE")) return false;
      return Boolean(value(row, "id")) || !untouched;
    }

    function stateSeed(row) {
      const type = input(row, "type");
      return {
        stateValue: value(row, "value") || "",
        stateDesc: value(row, "desc"),
        stateType: type ? type.value : "1",
        initial: checked(row, "initial"),
        final: checked(row, "final"),
        enterAction: value(row, "enter_action"),
      };
    }

    function transitionSeed(row) {
      const seed = {};
      Object.entries(TEXT_FIELDS).forEach(([name, key]) => {
        seed[key] = value(row, name);
      });
      seed.sourceState = seed.sourceState || "";
      seed.targetState = seed.targetState || "";
      seed.caseDefault = checked(row, "case_default") ? YES : NO;
      return seed;
    }

    // The rows the save would keep, each with the seed entry it becomes.
    function gather() {
      const states = rowsOf("states").filter((row) => {
        const seed = stateSeed(row);
        const untouched =
          !seed.stateValue &&
          !seed.stateDesc &&
          !seed.enterAction &&
          seed.stateType === "1" &&
          !seed.initial &&
          !seed.final;
        return kept(row, untouched);
      });
      const transitions = rowsOf("transitions").filter((row) => {
        const seed = transitionSeed(row);
        const untouched =
          Object.values(TEXT_FIELDS).every((key) => !seed[key]) && seed.caseDefault === NO;
        return kept(row, untouched);
      });
      return {
        states: states,
        transitions: transitions,
        body: { smStates: states.map(stateSeed), smTransitions: transitions.map(transitionSeed) },
      };
    }

    function problemItem(problem) {
      const field = problem.field ? " (" + problem.field + ")" : "";
      return el("li", { class: "sc-" + problem.level, "data-code": problem.code }, problem.message + field);
    }

    function showRowProblems(rows, problems) {
      const found = { states: new Map(), transitions: new Map() };
      problems.forEach((problem) => {
        ["states", "transitions"].forEach((kind) => {
          problem.place[kind].forEach((index) => {
            const list = found[kind].get(index) || [];
            list.push(problem);
            found[kind].set(index, list);
          });
        });
      });
      ["states", "transitions"].forEach((kind) => {
        rowsOf(kind).forEach((row) => {
          const cell = row.querySelector("td.field-problems");
          if (!cell) return;
          const index = rows[kind].indexOf(row);
          const mine = index < 0 ? [] : found[kind].get(index) || [];
          // The whole cell: the page's own list sits beside an empty <p> (a <p> cannot hold a <ul>).
          cell.replaceChildren();
          if (mine.length) cell.append(el("ul", { class: "sc-problems" }, ...mine.map(problemItem)));
          row.classList.toggle("sc-row-error", mine.some((p) => p.level === "error"));
        });
      });
    }

    function showSummary(body) {
      const summary = document.getElementById("sc-summary");
      const old = document.getElementById("sc-problems");
      let list;
      if (body.problems.length) {
        list = el(
          "ul",
          { class: "sc-problems sc-summary", id: "sc-problems" },
          ...body.problems.map((p) =>
            el("li", { class: "sc-" + p.level, "data-code": p.code }, el("code", {}, p.code), " " + p.message)
          )
        );
        summary.textContent = body.summary + " " + (text.each || "");
        summary.hidden = false;
      } else {
        list = el("p", { class: "sc-ok", id: "sc-problems" }, body.summary);
        summary.hidden = true;
      }
      if (old) old.replaceWith(list);
    }

    function showStateValues(body) {
      const values = new Set(body.smStates.map((s) => s.stateValue).filter(Boolean));
      const datalist = document.getElementById("sc-state-values");
      if (datalist) datalist.replaceChildren(...Array.from(values).map((v) => el("option", { value: v })));
    }

    function focusRow(row) {
      if (!row) return;
      document.querySelectorAll(".sc-row-focus").forEach((other) => other.classList.remove("sc-row-focus"));
      row.classList.add("sc-row-focus");
      row.scrollIntoView({ block: "center" });
      const first = row.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus({ preventScroll: true });
    }

    // `element` leads to `row` when clicked; the keyboard reaches it with Tab when `focusable`
    // (one stop per state and per transition: an arrow's label is for the mouse only).
    function clickable(element, row, label, focusable) {
      element.classList.add("sc-clickable");
      element.setAttribute("data-sc-row", row.id);
      element.addEventListener("click", () => focusRow(row));
      if (!focusable) return;
      element.setAttribute("role", "button");
      element.setAttribute("tabindex", "0");
      element.setAttribute("aria-label", label);
      element.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          focusRow(row);
        }
      });
    }

    // Mermaid names a state's group "<svg id>-state-<node id>-<n>" and a transition's arrow
    // and label data-id="edge<n>"; the live check says which row each node and edge is.
    function linkDiagram(svgId, answer, rows) {
      const prefix = svgId + "-state-";
      diagram.querySelectorAll("g.node[id^='" + prefix + "']").forEach((node) => {
        const id = node.id.slice(prefix.length).replace(/-\d+$/, "");
        const index = answer.nodes[id];
        if (index === undefined) return;
        const row = rows.states[index];
        clickable(node, row, value(row, "value") || id, true);
      });
      Object.entries(answer.edges).forEach(([edgeId, index]) => {
        const row = rows.transitions[index];
        const label = (value(row, "source") || "?") + " → " + (value(row, "target") || "?");
        diagram.querySelectorAll("[data-id='" + edgeId + "']").forEach((part) => {
          if (part.tagName.toLowerCase() === "path") {
            // A wide, invisible copy of the arrow, so it is easy to hit.
            const hit = part.cloneNode(false);
            hit.removeAttribute("id");
            hit.removeAttribute("style");
            hit.removeAttribute("marker-end");
            hit.removeAttribute("marker-start");
            hit.setAttribute("class", "sc-edge-hit");
            hit.setAttribute("data-id", edgeId + "-hit");
            part.after(hit);
            clickable(hit, row, label, true);
            part.classList.add("sc-edge");
          } else {
            clickable(part, row, label, false);
          }
        });
      });
    }

    async function check() {
      timer = null;
      const rows = gather();
      const number = ++sent;
      if (controller) controller.abort();
      controller = new AbortController();
      live.dataset.state = "checking";
      if (status) status.textContent = text.checking || "";
      let response, answer;
      try {
        response = await fetch(live.dataset.url, {
          method: "POST",
          credentials: "same-origin",
          signal: controller.signal,
          headers: {
            "Content-Type": "application/json",
            "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
          },
          body: JSON.stringify(rows.body),
        });
        answer = await response.json();
      } catch (error) {
        if (error.name === "AbortError") return;
        answer = { message: String(error && error.message ? error.message : error) };
      }
      if (number !== sent) return; // a newer check is on its way
      if (!response || !response.ok) {
        live.dataset.state = "error";
        if (status) status.textContent = (text.failed || "") + " " + (answer.message || response.status);
        return;
      }
      showRowProblems(rows, answer.problems);
      showSummary(answer);
      showStateValues(rows.body);
      const svgId = await draw(diagram, answer.diagram);
      if (number !== sent) return;
      if (svgId) linkDiagram(svgId, answer, rows);
      live.dataset.state = "done";
      live.dataset.checks = String(number);
      if (status) status.textContent = text.checked || "";
    }

    function later(event) {
      if (event && event.isComposing) return; // an input method is still composing (Chinese)
      if (timer) clearTimeout(timer);
      live.dataset.state = "pending";
      timer = setTimeout(check, DELAY);
    }

    // Typing, ticking a box and choosing an option all fire "input".
    form.addEventListener("input", later);
    form.addEventListener("compositionend", later);
    document.addEventListener("formset:added", later);
    document.addEventListener("formset:removed", later);
    check();
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
    document.querySelectorAll("[data-sc-diagram]").forEach((container) => {
      draw(container, readJson(container.dataset.scDiagram));
    });
    const simulator = document.getElementById("sc-simulator");
    if (simulator) setupSimulator(simulator);
    const live = document.querySelector("#sc-live[data-url]");
    if (live) setupEditor(live);
  });
})();
