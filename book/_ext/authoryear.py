"""The bibliography in author-year form, to match the author-year citations in the text.

A pybtex style ``authoryear``: the ``plain`` style (entries sorted by author, year, title) with
labels such as "He et al. 2016", "Houle & Toussaint 1988", "Wilson 1927", or, for a work whose
authors are not known here, the first words of its title ("GRiCoL 2024").
"""
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _names(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [(" ".join(p.last_names) or " ".join(p.first_names)).replace("{", "").replace("}", "") for p in people]
    if not last:
        title = entry.fields.get("title", entry.key).replace("{", "").replace("}", "").replace("\\_", "_")
        return " ".join(title.split()[:3])
    if len(people) == 1 or (len(people) == 2 and people[1].last_names == ["others"]):
        return last[0] + (" et al." if len(people) == 2 else "")
    if len(people) == 2:
        return f"{last[0]} & {last[1]}"
    return f"{last[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            year = entry.fields.get("year", "n.d.")
            yield f"{_names(entry)} {year}".strip()


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
