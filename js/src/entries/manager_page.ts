// The manager web page (served by labkit/viewer/_page.py): window list + live viewers.
import { startPage } from "../manager/page";

const root = document.getElementById("lk-manager");
if (root) {
  startPage(root).catch((err) => {
    root.textContent = `labkit manager page failed: ${err}`;
    console.error(err);
  });
}
