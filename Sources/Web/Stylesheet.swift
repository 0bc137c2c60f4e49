/// The one stylesheet. Colours meet WCAG 2.1 AA contrast (4.5:1 for text) in every mode.
enum Stylesheet {
    static let css = """
        :root { --ink: #1b1b1b; --paper: #ffffff; --brand: #0b4f9c; --brand-dark: #083a73; --muted: #4a4a4a;
          --line: #c9ced6; --soft: #f2f5f9; --focus: #ffbf47; --danger: #a4000f; --ok: #1e6b2a; }
        * { box-sizing: border-box; }
        html { font-size: 100%; }
        html.font-large { font-size: 118.75%; }
        html.font-larger { font-size: 137.5%; }
        body { margin: 0; font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", system-ui, sans-serif;
          color: var(--ink); background: var(--paper); line-height: 1.6; }
        a { color: var(--brand); text-decoration: underline; text-underline-offset: 2px; }
        a:hover { color: var(--brand-dark); }
        :focus-visible { outline: 3px solid var(--ink); outline-offset: 2px; box-shadow: 0 0 0 6px var(--focus); }
        .skip-link { position: absolute; left: 0.5rem; top: -4rem; background: var(--ink); color: #fff; padding: 0.5rem 1rem;
          z-index: 10; }
        .skip-link:focus { top: 0.5rem; color: #fff; }
        .toolbar { background: var(--soft); border-bottom: 1px solid var(--line); font-size: 0.95rem; }
        .toolbar ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0 auto; padding: 0.4rem 1rem;
          max-width: 72rem; align-items: center; }
        .toolbar a { color: var(--brand-dark); }
        .toolbar [aria-current="true"] { font-weight: 700; text-decoration: none; color: var(--ink); }
        header.site { background: var(--brand); color: #fff; }
        header.site .inner { max-width: 72rem; margin: 0 auto; padding: 0.75rem 1rem; display: flex; flex-wrap: wrap;
          align-items: center; justify-content: space-between; gap: 0.5rem; }
        header.site a { color: #fff; }
        header.site .brand { font-size: 1.35rem; font-weight: 700; text-decoration: none; }
        header.site nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 1rem; margin: 0; padding: 0; }
        header.site nav form { display: inline; }
        header.site nav button { background: none; border: 1px solid #fff; color: #fff; font: inherit; padding: 0.1rem 0.6rem;
          cursor: pointer; border-radius: 4px; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; min-height: 60vh; }
        footer.site { border-top: 1px solid var(--line); background: var(--soft); color: var(--ink); }
        footer.site .inner { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.75rem; line-height: 1.3; margin: 0.5rem 0 1rem; }
        h2 { font-size: 1.35rem; margin: 1.5rem 0 0.75rem; }
        .search { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 1rem 0; }
        .search input[type=search] { flex: 1 1 16rem; }
        label { display: block; font-weight: 600; margin: 0.75rem 0 0.25rem; }
        input, select, textarea { font: inherit; padding: 0.5rem 0.6rem; border: 2px solid #5c6470; border-radius: 4px;
          color: var(--ink); background: #fff; max-width: 100%; }
        .field input { width: 100%; max-width: 28rem; }
        button, .button { font: inherit; background: var(--brand); color: #fff; border: 2px solid var(--brand); border-radius: 4px;
          padding: 0.5rem 1.25rem; cursor: pointer; text-decoration: none; display: inline-block; }
        button:hover, .button:hover { background: var(--brand-dark); color: #fff; }
        .hint { color: var(--muted); font-size: 0.95rem; margin: 0.15rem 0; }
        .error-summary { border: 3px solid var(--danger); padding: 0.75rem 1rem; margin: 1rem 0; }
        .error-summary h2 { margin-top: 0; color: var(--danger); }
        .field-error { color: var(--danger); font-weight: 600; margin: 0.25rem 0; }
        .notice { border-left: 6px solid var(--ok); background: #eef7ef; padding: 0.75rem 1rem; }
        .cards { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.75rem; }
        .cards li { border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; background: #fff; }
        .cards .meta, .meta { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0 0; }
        .service-list { list-style: none; padding: 0; }
        .service-list li { border-bottom: 1px solid var(--line); padding: 0.75rem 0; }
        .service-list a { font-size: 1.1rem; font-weight: 600; }
        dl.facts { display: grid; grid-template-columns: minmax(8rem, 14rem) 1fr; gap: 0.4rem 1rem; }
        dl.facts dt { font-weight: 700; }
        dl.facts dd { margin: 0; }
        table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
        th, td { border: 1px solid var(--line); padding: 0.4rem 0.6rem; text-align: left; vertical-align: top; }
        th { background: var(--soft); }
        .pager { display: flex; gap: 1rem; margin: 1rem 0; }
        .tag { display: inline-block; border: 1px solid var(--brand); color: var(--brand-dark); border-radius: 999px;
          padding: 0 0.5rem; font-size: 0.85rem; margin-right: 0.25rem; }
        body.elderly { font-size: 1.375rem; line-height: 1.8; }
        body.elderly .secondary { display: none; }
        body.elderly main { max-width: 56rem; }
        body.elderly .cards { grid-template-columns: 1fr; }
        body.elderly a { text-decoration-thickness: 2px; }
        body.elderly, body.contrast { --ink: #000; --brand: #002d62; --brand-dark: #001a3a; --muted: #222; --line: #444; }
        body.contrast { background: #fff; }
        body.contrast header.site { background: #000; }
        body.contrast input, body.contrast select { border-color: #000; }
        body.elderly button, body.elderly .button { padding: 0.75rem 1.5rem; font-size: 1.2em; }
        .flash { padding: 0.75rem 1rem; margin: 1rem 0; border-left: 6px solid var(--ok); background: #eef7ef; }
        .flash.error { border-color: var(--danger); background: #fdeeee; }
        .status { display: inline-block; padding: 0 0.5rem; border-radius: 4px; border: 1px solid var(--ink); font-weight: 600; }
        .urgency-red { color: #fff; background: var(--danger); border-color: var(--danger); }
        .urgency-yellow { color: #1b1b1b; background: #ffdd57; border-color: #8a6d00; }
        .urgency-green { color: var(--ok); background: #fff; border-color: var(--ok); }
        fieldset { border: 1px solid var(--line); border-radius: 4px; margin: 1rem 0; padding: 0.5rem 1rem 1rem; }
        legend { font-weight: 700; padding: 0 0.25rem; }
        .choice { display: flex; align-items: center; gap: 0.5rem; margin: 0.35rem 0; font-weight: 400; }
        .choice input { width: auto; }
        textarea { width: 100%; max-width: 40rem; min-height: 6rem; }
        .field select { min-width: 12rem; }
        .actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-end; margin: 1rem 0; }
        .actions form { margin: 0; }
        button.secondary { background: #fff; color: var(--brand-dark); }
        button.secondary:hover { background: var(--soft); color: var(--brand-dark); }
        button.danger { background: var(--danger); border-color: var(--danger); }
        td form { display: inline; }
        td button { padding: 0.1rem 0.6rem; }
        ol.timeline { padding-left: 1.5rem; }
        ol.timeline li { margin: 0.35rem 0; }
        ul.days { list-style: none; display: flex; flex-wrap: wrap; gap: 0.5rem; padding: 0; margin: 0.5rem 0 1rem; }
        ul.days a { display: inline-block; border: 2px solid var(--brand); border-radius: 4px; padding: 0.25rem 0.75rem;
          text-decoration: none; }
        ul.days a[aria-current] { background: var(--brand); color: #fff; font-weight: 700; }
        .date-form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-end; margin: 0.5rem 0; }
        .date-form label { margin: 0; }
        code.digest { font-size: 0.8rem; word-break: break-all; }
        .visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
          white-space: nowrap; }
        .licence-print { max-width: 48rem; border: 2px solid #333; padding: 1.5rem 2rem; }
        .licence-print h1 { text-align: center; letter-spacing: 0.2em; }
        .licence-marks { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 1rem; align-items: flex-end; }
        .licence-marks figure { margin: 0; text-align: center; }
        .licence-marks svg { width: 10rem; height: 10rem; }
        @media print {
          @page { size: A4; margin: 18mm; }
          header, footer, nav, .skip-link, .no-print, .prefs { display: none !important; }
          .licence-print { border: 2px solid #000; max-width: none; }
        }
        @media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; } }
        """
}
