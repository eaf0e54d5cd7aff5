// anywidget entry for labkit.widgets.Form (DevicePanel, SpoolPanel, the dashboard controls)
import { render } from "../form/widget";

export default { render };
