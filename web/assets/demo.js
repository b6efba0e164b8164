// The chat demo page: its texts, the embed snippet for this server, and the widget following
// the page's language switch.
'use strict';

(function () {
  const { i18n } = window.Tandem;
  i18n.add({
    en: {
      'demo.title': 'Tandem · customer service, human + AI',
      'demo.heading': "A shop's help desk, human + AI",
      'demo.lead': "The chat in the corner is Tandem's widget. Ask it about an order, a refund or delivery, in Chinese, English or both: the bot answers from the knowledge base, and hands you to a person (with a ticket already filled in) when it should.",
      'demo.try1': 'Try: 退款多久到账？', 'demo.try2': 'Try: where is my order TD2026112612345',
      'demo.try3': 'Try: 转人工 / I want to talk to a person',
      'demo.after': 'Then take the ticket in the agent console, and watch the dashboard move when you rate the conversation.',
      'demo.embed': 'Put it on your site',
      'demo.embedLead': 'One tag. The widget draws itself in a shadow root, so your styles and its styles stay apart.',
      'demo.options': 'Optional: data-open="true", data-lang="zh|en", data-title, data-customer-id, data-customer-name, data-customer-tier.',
    },
    zh: {
      'demo.title': 'Tandem · 人机协同客服',
      'demo.heading': '电商客服：机器人 + 人工',
      'demo.lead': '右下角就是 Tandem 的聊天组件。用中文、英文或中英混合问订单、退款、物流：机器人用知识库回答，需要时转给人工，并自动填好工单。',
      'demo.try1': '试试：退款多久到账？', 'demo.try2': '试试：where is my order TD2026112612345',
      'demo.try3': '试试：转人工 / I want to talk to a person',
      'demo.after': '然后在坐席工作台接单处理，评价这次对话后看看服务看板的变化。',
      'demo.embed': '嵌入您的网站',
      'demo.embedLead': '只需一个标签。组件渲染在 Shadow DOM 中，与您网站的样式互不影响。',
      'demo.options': '可选属性：data-open="true"、data-lang="zh|en"、data-title、data-customer-id、data-customer-name、data-customer-tier。',
    },
  });
  document.addEventListener('DOMContentLoaded', () => {
    window.Tandem.initChrome();
    document.getElementById('snippet').textContent = `<script src="${location.origin}/widget.js" defer></script>`;
    i18n.onChange((lang) => { if (window.TandemWidget) window.TandemWidget.setLang(lang); });
  });
})();
