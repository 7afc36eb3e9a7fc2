"""The dashboard's task form checks the id in the browser and explains the API's refusals per field;
labels have the same colours as in the annotator."""
from playwright.sync_api import expect

from .driver import open_annotator, shown_sample


def _rgb(hex_colour):
    """'#0BF737' -> 'rgb(11, 247, 55)', as getComputedStyle writes a colour."""
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def open_dashboard(context, site, stack):
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"{site.url}/admin.html#token={stack.admin_token()}")
    expect(page.locator("#task-form")).to_be_visible()
    return page, console


def test_id_is_checked_in_the_browser_and_refusals_are_shown_by_field(stack, site, new_context):
    page, console = open_dashboard(new_context(), site, stack)
    page.fill("#task-form [name=name]", "Forms")
    page.fill("#task-form [name=id]", "Bad Id!")
    page.click("#task-save")
    id_field = page.locator("#task-form [name=id]")
    assert id_field.evaluate("e => e.validity.patternMismatch")  # the browser checks it: the pattern compiles
    assert not [m for m in console if "regular expression" in m]

    # A refusal only the server can make (the browser check switched off) lands on its field.
    page.evaluate("document.querySelector('#task-form').noValidate = true")
    page.click("#task-save")
    error = page.locator("#task-form [data-error-for=id]")
    expect(error).to_contain_text("lowercase letters, digits and dashes")
    assert "String should match" not in page.locator("body").inner_text()
    page.fill("#task-form [name=id]", "forms-ok")
    page.click("#task-save")
    expect(page.locator("#detail-id")).to_have_text("forms-ok")
    expect(error).to_be_hidden()


def test_label_colours_match_the_annotator(stack, site, seeder, new_context):
    shape = {"type": "Feature", "properties": {"label": "debris"},
             "geometry": {"type": "Polygon", "coordinates": [[[5, 5], [50, 5], [50, 50], [5, 5]]]}}
    task = seeder.task(2, labels=("cell", "nucleus", "debris"),
                       pre_annotation={"type": "FeatureCollection", "features": [shape]})
    annotator = open_annotator(new_context(), site.url, task, stack.annotator_token("colours"))
    shown_sample(annotator)
    colours = annotator.evaluate("window.annotator.colors")

    page, _ = open_dashboard(new_context(), site, stack)
    page.locator(f"#tasks tr[data-task={task}]").get_by_role("button", name="Open").click()
    # The task's settings show each label with the annotator's colour for it.
    swatches = page.locator("#settings .label-tag .swatch")
    expect(swatches).to_have_count(3)
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#settings .label-tag')]
        .map((tag) => [tag.dataset.label, getComputedStyle(tag.querySelector('.swatch')).backgroundColor]))""")
    assert shown == {label: _rgb(colour) for label, colour in colours.items()}
    assert len(set(shown.values())) == 3
    page.locator("#samples tr[data-sample=s001]").get_by_role("button", name="View").click()
    polygon = page.locator("#sample-view-shapes polygon")
    expect(polygon).to_have_count(1)
    assert polygon.get_attribute("stroke").lower() == colours["debris"].lower()
    expect(page.locator("#sample-view-title")).to_contain_text("1 shape")
    assert "1 shapes" not in page.locator("#sample-view-title").inner_text()
