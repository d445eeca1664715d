/* The member grid on the household form: one compact row per person (the rest behind "更多"),
   sex and birth date from the ID number as it is typed, the head's row kept equal to the household's
   head fields, rows pasted from Excel (tab-separated), every row checked in place with Chinese
   messages. The server checks everything again on save; this only saves typing. */
(function () {
  "use strict";
  var MAIN = ["name", "id_number", "relation", "labour_capacity", "health", "disability_class", "monthly_income"];
  var PASTE = ["name", "id_number", "relation", "labour_capacity", "health", "monthly_income"];
  var HEAD = "02";
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function grid() { return document.getElementById("members"); }
  function rows() {
    var list = grid().querySelector(".inline-field-list");
    return list ? Array.prototype.filter.call(list.children, function (r) {
      return r.classList.contains("inline-field");
    }) : [];
  }
  function field(row, name) { return document.getElementById(row.id + "-" + name); }
  function group(input) { return input ? input.closest(".form-group") : null; }
  function labelOf(input) {
    var g = group(input), l = g && g.querySelector("label");
    return l ? l.textContent.replace(/[*\s\u00a0]/g, "") : "";
  }

  function parseId(text) {
    var v = (text || "").trim().toUpperCase();
    if (!v) return {empty: true};
    if (/^\d{15}$/.test(v)) {
      return {birth: "19" + v.substr(6, 2) + "-" + v.substr(8, 2) + "-" + v.substr(10, 2),
              sex: parseInt(v.charAt(14), 10) % 2 ? "1" : "2"};
    }
    if (!/^\d{17}[\dX]$/.test(v)) return {error: "应为18位（最后一位可以是X）"};
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += parseInt(v.charAt(i), 10) * WEIGHTS[i];
    if (CHECK.charAt(sum % 11) !== v.charAt(17)) return {error: "校验位不对，请核对号码"};
    var birth = v.substr(6, 4) + "-" + v.substr(10, 2) + "-" + v.substr(12, 2);
    if (isNaN(Date.parse(birth))) return {error: "出生日期不存在"};
    return {birth: birth, sex: parseInt(v.charAt(16), 10) % 2 ? "1" : "2"};
  }

  function mark(input, message) {
    if (!input) return;
    var g = group(input), fb = g.querySelector(".jz-feedback");
    if (!fb) {
      fb = document.createElement("div");
      fb.className = "invalid-feedback jz-feedback";
      input.insertAdjacentElement("afterend", fb);
    }
    fb.textContent = message || "";
    input.classList.toggle("is-invalid", !!message);
  }

  function fillFromId(row) {
    var id = field(row, "id_number"), parsed = parseId(id && id.value);
    mark(id, parsed.error ? labelOf(id) + parsed.error : "");
    if (!parsed.birth) return;
    var sex = field(row, "sex"), birth = field(row, "birth_date");
    if (sex && (!sex.value || sex.dataset.auto)) { sex.value = parsed.sex; sex.dataset.auto = "1"; }
    if (birth && (!birth.value || birth.dataset.auto)) { birth.value = parsed.birth; birth.dataset.auto = "1"; }
  }

  function checkRow(row, seen) {
    var problems = [];
    ["name", "id_number", "relation"].forEach(function (name) {
      var input = field(row, name);
      if (input && !input.value.trim()) {
        mark(input, input.dataset.bad ? "“" + input.dataset.bad + "”不在“" + labelOf(input) + "”的选项中"
                                      : labelOf(input) + "不能为空");
        problems.push(input);
      }
    });
    var id = field(row, "id_number");
    if (id && id.value.trim()) {
      var parsed = parseId(id.value), key = id.value.trim().toUpperCase();
      var message = parsed.error ? labelOf(id) + parsed.error : (seen[key] ? "与第" + seen[key] + "行的身份证号重复" : "");
      mark(id, message);
      if (message) problems.push(id);
      seen[key] = seen[key] || (rows().indexOf(row) + 1);
    }
    var income = field(row, "monthly_income");
    if (income && income.value.trim() && !/^\d+(\.\d{1,2})?$/.test(income.value.trim())) {
      mark(income, "月收入应为数字（元），最多两位小数"); problems.push(income);
    }
    row.classList.toggle("jz-row-error", problems.length > 0);
    return problems;
  }

  function checkAll() {
    var seen = {}, problems = [], heads = 0;
    rows().forEach(function (row) {
      if (isDeleted(row)) return;
      problems = problems.concat(checkRow(row, seen));
      var rel = field(row, "relation");
      if (rel && rel.value === HEAD) heads++;
    });
    var note = document.getElementById("jz-grid-note");
    var text = rows().length && heads === 0 ? "成员中要有一位“与户主关系”为户主的人（户主本人）。" : "";
    note.textContent = text;
    note.classList.toggle("d-none", !text);
    if (text) problems.push(note);       // the save rules refuse it too: said here before sending
    return problems;
  }

  function isDeleted(row) {
    var del = document.getElementById("del-" + row.id);
    return del && del.checked;
  }

  function compact(row) {
    if (row.dataset.compact) return;
    row.dataset.compact = "1";
    row.classList.add("jz-grid-row");
    var box = row.querySelector(".inline-form-field");
    if (!box) return;
    var more = document.createElement("div");
    more.className = "jz-more d-none";
    Array.prototype.forEach.call(box.querySelectorAll(":scope > .form-group"), function (g) {
      var input = g.querySelector("input, select, textarea");
      var name = input ? input.id.replace(row.id + "-", "") : "";
      if (MAIN.indexOf(name) < 0) more.appendChild(g);
      else g.classList.add("jz-main", "jz-col-" + name);
    });
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "btn btn-sm btn-link jz-more-toggle";
    toggle.textContent = "更多";
    toggle.addEventListener("click", function () {
      more.classList.toggle("d-none");
      toggle.textContent = more.classList.contains("d-none") ? "更多" : "收起";
    });
    box.appendChild(toggle);
    box.appendChild(more);
    var id = field(row, "id_number");
    if (id) id.addEventListener("input", function () { fillFromId(row); syncFromRow(row); });
    var name = field(row, "name");
    if (name) {
      name.addEventListener("input", function () { syncFromRow(row); });
      name.addEventListener("paste", onPaste);
    }
    var rel = field(row, "relation");
    if (rel) rel.addEventListener("change", function () { delete rel.dataset.bad; });
    ["sex", "birth_date"].forEach(function (n) {
      var input = field(row, n);
      if (input) input.addEventListener("change", function () { delete input.dataset.auto; });
    });
    // a row's error is cleared once it is corrected
    box.addEventListener("change", function () { if (row.classList.contains("jz-row-error")) checkAll(); });
  }

  // -- the head's row and the household's head fields: typed once
  function headRow() {
    return rows().filter(function (r) {
      var rel = field(r, "relation");
      return rel && rel.value === HEAD && !isDeleted(r);
    })[0];
  }
  function syncFromHousehold() {
    var row = headRow();
    if (!row) return;
    copy(document.getElementById("head_name"), field(row, "name"));
    copy(document.getElementById("head_id_number"), field(row, "id_number"));
    fillFromId(row);
  }
  function syncFromRow(row) {
    if (row !== headRow()) return;
    copy(field(row, "name"), document.getElementById("head_name"));
    copy(field(row, "id_number"), document.getElementById("head_id_number"));
  }
  function copy(from, to) { if (from && to && to.value !== from.value) to.value = from.value; }

  function addRow() {
    var button = document.getElementById("members-button");
    if (!button || !window.faForm) return null;
    window.faForm.addInlineField(button, "members");
    var all = rows(), row = all[all.length - 1];
    compact(row);
    return row;
  }

  // -- rows from Excel: 姓名、身份证号、与户主关系、劳动能力、健康状况、月收入, one person a line
  function choose(select, text) {
    if (!select || !text) return;
    text = text.trim();
    for (var i = 0; i < select.options.length; i++) {
      var o = select.options[i];
      if (o.value === text || o.text === text) { select.value = o.value; delete select.dataset.bad; return; }
    }
    select.value = "";
    select.dataset.bad = text;           // said at the field until a valid choice is made
  }
  function pasteRows(text) {
    var lines = text.replace(/\r/g, "").split("\n").filter(function (l) { return l.trim(); });
    var empty = rows().filter(function (r) {
      var n = field(r, "name"), i = field(r, "id_number");
      return n && !n.value && i && !i.value;
    });
    lines.forEach(function (line) {
      var cells = line.split("\t"), row = empty.shift() || addRow();
      if (!row) return;
      PASTE.forEach(function (name, i) {
        var input = field(row, name), value = (cells[i] || "").trim();
        if (!input || !value) return;
        if (input.tagName === "SELECT") choose(input, value);
        else input.value = value;
      });
      fillFromId(row);
      syncFromRow(row);
    });
    checkAll();
    return lines.length;
  }
  function onPaste(event) {
    var text = (event.clipboardData || window.clipboardData).getData("text");
    if (text.indexOf("\t") < 0 && text.trim().indexOf("\n") < 0) return;    // one value: an ordinary paste
    event.preventDefault();
    pasteRows(text);                      // the empty row pasted into is filled first
  }

  // the server's refusal names rows ("家庭成员第2行（赵小红）：身份证号 …"): marked there as well
  function markRefusals() {
    Array.prototype.forEach.call(document.querySelectorAll(".alert-danger, .alert-error"), function (alert) {
      alert.textContent.split("\n").forEach(function (line) {
        var m = /第(\d+)行[^：]*：(.+)/.exec(line);
        if (!m) return;
        var live = rows().filter(function (r) { return !isDeleted(r); }), row = live[parseInt(m[1], 10) - 1];
        if (!row) return;
        row.classList.add("jz-row-error");
        var target = MAIN.map(function (n) { return field(row, n); }).filter(function (input) {
          return input && labelOf(input) && m[2].trim().indexOf(labelOf(input)) === 0;
        })[0];
        if (target) mark(target, m[2].replace(/^保存失败：/, "").trim());
      });
    });
  }

  function setUp() {
    var box = grid();
    if (!box) return;
    box.classList.add("jz-grid");
    var form = box.closest("form");
    form.classList.add("jz-household-form");
    var tools = document.createElement("div");
    tools.className = "jz-grid-tools";
    tools.innerHTML = '<div class="alert alert-warning py-1 d-none" id="jz-grid-note"></div>' +
      '<details id="jz-paste"><summary>从 Excel 粘贴成员（每行一人：姓名、身份证号、与户主关系、劳动能力、健康状况、月收入）</summary>' +
      '<textarea class="form-control form-control-sm" id="jz-paste-text" rows="3" ' +
      'placeholder="在 Excel 中选中这几列的若干行，复制后粘贴到这里"></textarea>' +
      '<button type="button" class="btn btn-sm btn-secondary mt-1" id="jz-paste-add">加入成员</button></details>';
    box.insertAdjacentElement("afterend", tools);
    document.getElementById("jz-paste-add").addEventListener("click", function () {
      var area = document.getElementById("jz-paste-text");
      if (pasteRows(area.value)) {
        area.value = "";
        document.getElementById("jz-paste").open = false;    // the rows are in the grid now
      }
    });
    document.getElementById("jz-paste-text").addEventListener("paste", function (e) {
      var text = (e.clipboardData || window.clipboardData).getData("text");
      e.preventDefault();
      pasteRows(text);
    });
    rows().forEach(compact);
    // a new household starts with its head's row, filled from the head fields as they are typed
    // (a saved household is left as stored until the user types: a difference there is the user's to see)
    if (!rows().length && document.getElementById("head_name")) {
      var row = addRow();
      if (row) field(row, "relation").value = HEAD;
      syncFromHousehold();
    }
    ["head_name", "head_id_number"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input) input.addEventListener("input", syncFromHousehold);
    });
    markRefusals();
    // new rows from Flask-Admin's own "add" button get the same layout
    new MutationObserver(function () { rows().forEach(compact); })
      .observe(box.querySelector(".inline-field-list"), {childList: true});
    form.addEventListener("submit", function (event) {
      var problems = checkAll();
      if (problems.length) {
        event.preventDefault();
        problems[0].scrollIntoView({block: "center"});
        if (problems[0].focus) problems[0].focus();
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
