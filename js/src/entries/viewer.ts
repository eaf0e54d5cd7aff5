// anywidget entry for labkit.viewer.ViewerWindow (also loaded by the manager page)
import { render } from "../viewer/widget";

export { render };
export default { render };
