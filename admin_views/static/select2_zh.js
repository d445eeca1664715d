// Select2 3.5.2 ships no Chinese messages; these run before flask-admin's form.js builds the widgets.
(function ($) {
  if (!$ || !$.fn.select2) { return; }
  $.extend($.fn.select2.defaults, {
    formatNoMatches: function () { return "没有找到匹配项"; },
    formatInputTooShort: function (input, min) { return "请再输入 " + (min - input.length) + " 个字"; },
    formatInputTooLong: function (input, max) { return "请删掉 " + (input.length - max) + " 个字"; },
    formatSelectionTooBig: function (limit) { return "最多只能选择 " + limit + " 项"; },
    formatLoadMore: function () { return "加载更多…"; },
    formatSearching: function () { return "检索中…"; },
    formatAjaxError: function () { return "加载失败，请检查网络或重新登录"; }
  });
})(window.jQuery);
