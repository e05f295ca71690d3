// demo-spa: a tiny client-side router, as a bundler would emit it (no build step needed).
const routes = [
  [/^\/$/, () => `<h1>Home</h1><p>This page is <code>index.html</code>. Try a client route:
     <a href="/users/42" data-link>/users/42</a> or <a href="/about" data-link>/about</a>.
     Reload on a deep route: the server must answer with index.html and status 200.</p>`],
  [/^\/users\/(\d+)$/, (id) => `<h1>User ${id}</h1><p>Rendered in the browser from the URL.</p>`],
  [/^\/about$/, () => `<h1>About</h1><p>2 + 3 = <span id="sum">…</span> (computed by WebAssembly).</p>`],
];
function render() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const match = routes.map(([re, view]) => [path.match(re), view]).find(([m]) => m);
  document.querySelector("main").innerHTML = `<div class="card">${
    match ? match[1](...match[0].slice(1)) : "<h1>Not found</h1><p>No route matches " + path + ".</p>"}</div>`;
  document.querySelectorAll("header a").forEach((a) =>
    a.toggleAttribute("aria-current", a.getAttribute("href") === path));
  const sum = document.getElementById("sum");
  if (sum) {
    WebAssembly.instantiateStreaming(fetch("/assets/add-f61fd62f.wasm"))
      .then(({ instance }) => { sum.textContent = instance.exports.add(2, 3); })
      .catch((e) => { sum.textContent = "wasm failed: " + e.message; });
  }
}
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (!a) return;
  e.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);
render();
