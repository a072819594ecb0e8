// The simulator's "save as scenario": sends the current steps to the simulator's endpoint
// with a name; the server runs them and saves each with the outcome it had as expectation.
(function () {
  "use strict";

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function steps(text) {
    const collected = [];
    let bad = false;
    document.querySelectorAll("#sc-steps .sc-step-row").forEach((row) => {
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
        if (context === null || typeof context !== "object" || Array.isArray(context)) bad = true;
      }
      if (event) collected.push({ event: event, role: role === "" ? null : Number(role), context: context });
    });
    return bad ? text.badJson : collected.length ? collected : text.noSteps;
  }

  function say(output, ok, message, link) {
    output.className = ok ? "sc-ok" : "sc-error";
    output.textContent = message;
    if (link) {
      const anchor = document.createElement("a");
      anchor.href = link.url;
      anchor.textContent = link.text;
      anchor.id = "sc-scenarios-link";
      output.append(" ", anchor);
    }
  }

  async function save(form, output) {
    const text = readJson("sc-simulator-text") || {};
    const name = document.getElementById("sc-scenario-name").value.trim();
    if (!name) return say(output, false, text.noName);
    const collected = steps(text);
    if (typeof collected === "string") return say(output, false, collected);
    output.dataset.state = "saving";
    const response = await fetch(readJson("sc-run-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify({ state: document.getElementById("sc-start").value, steps: collected, saveAs: name }),
    });
    let body;
    try {
      body = await response.json();
    } catch (e) {
      body = { message: response.status + " " + response.statusText };
    }
    if (response.status === 201) {
      say(output, true, text.saved.replace("%s", body.name), { url: body.url, text: text.scenarios });
    } else {
      const problems = (body.details && body.details.problems) || [];
      const detail = problems.map((p) => p.message).join(" ");
      say(output, false, (body.code ? body.code + ": " : "") + (body.message || "") + (detail && detail !== body.message ? " " + detail : ""));
    }
    output.dataset.state = response.status === 201 ? "saved" : "failed";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("sc-save-scenario");
    const form = document.getElementById("sc-simulator");
    if (!button || !form) return;
    button.addEventListener("click", () => save(form, document.getElementById("sc-save-result")));
  });
})();
