// anywidget entry for labkit.widgets.LiveView
import { render } from "../liveview/widget";

export default { render };
