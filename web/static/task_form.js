// Shows and hides a task form's conditional fields (data-hide-when: the FEEL conditional.hide as
// [[[key, "=" | "!=", literal], ...and], ...or]) as the inputs change. Progressive: without it the
// server's rendering stands, and a change shows after the next submission. A hidden field's controls
// are disabled, so nothing is posted for them (the server drops hidden fields all the same).
(function () {
  "use strict";
  if (window.taskFormConditions) { return; }
  window.taskFormConditions = true;
  var NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;

  // A value as the server reads it: blank or not posted is null, a checkbox a boolean, a number field a number.
  function valueOf(form, key) {
    var control = form.elements.namedItem(key);
    if (!control) { return null; }
    if (typeof RadioNodeList !== "undefined" && control instanceof RadioNodeList) {
      for (var i = 0; i < control.length; i += 1) {
        if (control[i].checked && !control[i].matches(":disabled")) { return control[i].value; }
      }
      return null;
    }
    var off = control.matches(":disabled");  // also when inside a disabled fieldset
    if (control.type === "checkbox") { return !off && control.checked; }
    if (off || control.value.trim() === "") { return null; }
    if (control.hasAttribute("data-number")) {
      return NUMBER.test(control.value) ? Number(control.value) : control.value;
    }
    return control.value;
  }

  function holds(condition, form) {
    return condition.some(function (terms) {
      return terms.every(function (term) {
        return (valueOf(form, term[0]) === term[2]) === (term[1] === "=");
      });
    });
  }

  function update(form) {
    form.querySelectorAll("[data-hide-when]").forEach(function (wrapper) {
      var hide;
      try {
        hide = holds(JSON.parse(wrapper.getAttribute("data-hide-when")), form);
      } catch (error) {
        return;  // leave the server's decision
      }
      wrapper.hidden = hide;
      wrapper.querySelectorAll("input, select, textarea, fieldset").forEach(function (control) {
        control.disabled = hide;
      });
    });
  }

  var forms = [];
  document.querySelectorAll("[data-hide-when]").forEach(function (wrapper) {
    var form = wrapper.closest("form");
    if (form && forms.indexOf(form) < 0) { forms.push(form); }
  });
  forms.forEach(function (form) {
    form.addEventListener("change", function () { update(form); });
    form.addEventListener("input", function () { update(form); });
    update(form);
  });
}());
