// The designer's pages: draw Mermaid diagrams, and run the simulator.
// Mermaid is the project's own copy (vendor/mermaid.min.js): nothing comes from a CDN.
(function () {
  "use strict";

  let drawings = 0;

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Draw `source` into `container`; data-rendered tells tests (and people) how it went.
  async function draw(container, source) {
    drawings += 1;
    try {
      const { svg } = await window.mermaid.render("sc-svg-" + drawings, source);
      container.innerHTML = svg;
      container.dataset.rendered = "true";
    } catch (error) {
      container.textContent = String(error && error.message ? error.message : error);
      container.classList.add("sc-error");
      container.dataset.rendered = "error";
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
          path = step.outcome.path.map((hop) => hop.fromState + " → " + hop.toState).join(", ");
        } else {
          outcome = el("span", { class: "sc-error" }, "✗ " + step.error.code);
          path = step.error.message;
        }
        tbody.append(
          el("tr", { class: step.ok ? "sc-step-ok" : "sc-step-failed", "data-step": String(index + 1) },
            el("td", {}, String(index + 1)), el("td", {}, step.event), el("td", {}, outcome), el("td", {}, path))
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

  document.addEventListener("DOMContentLoaded", () => {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default" });
    document.querySelectorAll("[data-sc-diagram]").forEach((container) => {
      draw(container, readJson(container.dataset.scDiagram));
    });
    const simulator = document.getElementById("sc-simulator");
    if (simulator) setupSimulator(simulator);
  });
})();
