// anywidget entry for labkit.widgets.TracePlot(renderer="canvas") (labkit/widgets/_trace_canvas.py)
import { render } from "../trace/widget";

export default { render };
