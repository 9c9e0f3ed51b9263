#!/usr/bin/python3
"""Check `leura schedule --tasks --now TIME` against two other cron
implementations, on a few thousand random expressions and several start
times each.

The oracles:

* a brute-force scanner written here from the text of Debian's crontab(5)
  (not from scheduler/cron.c): "*" is first-last, "a-b/n" and "*/n" step
  through the range, 0 and 7 are Sunday, and the two day fields are ORed
  only when both are restricted, i.e. neither begins with "*" (Leura's "?"
  counts as "*").  Leura's own extensions are read as Leura documents
  them: "a/n" is "a-last/n" (not in the weekday field), and a search ends
  with the 28th year after the start (an expression that does not fire by
  then never fires);
* Debian's python3-croniter, asked with day_or set by the same "*" rule.
  croniter reads a restricted field that covers every value ("1-31",
  "0-7") as "*" and so ANDs where cron ORs, it gives up on some rare
  dates, and from February it skips the first days of March when the day
  field holds a day February lacks ("0 0 1,31 * *" from 2026-02-21 gives
  03-31; taichino/croniter#178, fixed after 1.3.5): those cases are left
  to the scanner alone.

Usage: cron_oracle.py LEURA REPO COUNT SEED
REPO is a valid config repo with host web1; tasks/ is filled with one task
per expression.  Prints a summary; exits 1 on any difference.
"""
import calendar
import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

try:
    from croniter import croniter, CroniterBadDateError
except ImportError:
    croniter = None

FIELDS = [  # name, first, last, names (names[i] is first + i)
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("dom", 1, 31, None),
    ("month", 1, 12, ["jan", "feb", "mar", "apr", "may", "jun", "jul",
                      "aug", "sep", "oct", "nov", "dec"]),
    ("dow", 0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
]
MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
SEARCH_YEARS = 28


# ---- random expressions ----

def value_text(rng, f, v, may_name=True):
    names = FIELDS[f][3]
    if names and may_name and v - FIELDS[f][1] < len(names) and \
            rng.random() < 0.3:
        name = names[v - FIELDS[f][1]]
        return rng.choice([name, name.upper(), name.capitalize()])
    return str(v)


def random_field(rng, f):
    _, lo, hi, _ = FIELDS[f]
    if rng.random() < 0.25:
        return "?" if f in (2, 4) and rng.random() < 0.3 else "*"
    elems = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        kinds = ["v", "a-b", "a-b/n", "*/n"] + ([] if f == 4 else ["a/n"])
        kind = rng.choice(kinds)
        a = rng.randint(lo, hi)
        b = rng.randint(a, hi)
        n = rng.randint(1, hi // 3 + 1) if rng.random() < 0.9 else \
            rng.randint(1, hi)
        # a range that ends at Sunday is written 7, not "sun" (0)
        if kind == "v":
            elems.append(value_text(rng, f, a))
        elif kind == "a-b":
            elems.append(value_text(rng, f, a) + "-" +
                         value_text(rng, f, b, b != 0))
        elif kind == "a-b/n":
            elems.append(value_text(rng, f, a) + "-" +
                         value_text(rng, f, b, b != 0) + "/%d" % n)
        elif kind == "*/n":
            elems.append("*/%d" % n)
        else:
            elems.append(value_text(rng, f, a) + "/%d" % n)
    return ",".join(elems)


def random_expr(rng):
    if rng.random() < 0.02:
        return rng.choice(sorted(MACROS))
    return " ".join(random_field(rng, f) for f in range(5))


# ---- the scanner, from crontab(5) ----

def field_set(f, text):
    _, lo, hi, names = FIELDS[f]

    def num(s):
        if s.isdigit():
            return int(s)
        return names.index(s.lower()) + lo

    if text == "?":
        text = "*"
    out = set()
    for elem in text.split(","):
        rng_text, _, step = elem.partition("/")
        step = int(step) if step else 1
        if rng_text == "*":
            a, b = lo, hi
        elif "-" in rng_text:
            a, b = (num(x) for x in rng_text.split("-"))
        elif step != 1 or "/" in elem:
            a, b = num(rng_text), hi       # Leura: a/n is a-last/n
        else:
            a = b = num(rng_text)
        out.update(range(a, b + 1, step))
    if f == 4 and 7 in out:
        out.discard(7)
        out.add(0)
    return out


class Scanner:
    def __init__(self, expr):
        expr = MACROS.get(expr.lower(), expr)
        fields = expr.split()
        self.sets = [field_set(f, fields[f]) for f in range(5)]
        star = [fields[f][0] in "*?" for f in range(5)]
        self.day_or = not star[2] and not star[4]
        self.full = [self.sets[f] == set(range(FIELDS[f][1],
                                                FIELDS[f][2] + 1))
                     - ({7} if f == 4 else set()) for f in range(5)]

    def day_ok(self, d):
        if d.month not in self.sets[3]:
            return False
        dom = d.day in self.sets[2]
        dow = (d.weekday() + 1) % 7 in self.sets[4]
        return (dom or dow) if self.day_or else (dom and dow)

    def next(self, t):
        """First fire time strictly after t (seconds), or None."""
        start = datetime.fromtimestamp((t // 60 + 1) * 60, timezone.utc)
        day = start.replace(hour=0, minute=0)
        first = True
        while day.year <= start.year + SEARCH_YEARS:
            if self.day_ok(day):
                for h in sorted(self.sets[1]):
                    for m in sorted(self.sets[0]):
                        c = day.replace(hour=h, minute=m)
                        if not first or c >= start:
                            return calendar.timegm(c.timetuple())
            first = False
            day += timedelta(days=1)
        return None


# ---- croniter ----

def croniter_next3(expr, t, day_or):
    """croniter's next three times, or None when it cannot say."""
    if croniter is None:
        return None
    it = croniter(expr.replace("?", "*"),
                  datetime.fromtimestamp(t, timezone.utc), day_or=day_or)
    out = []
    try:
        for _ in range(3):
            out.append(int(it.get_next(float)))
    except CroniterBadDateError:
        return None
    return out


def crosses_february(now, want):
    """Whether a search from now to the last of want passes February."""
    a = datetime.fromtimestamp(now, timezone.utc)
    b = datetime.fromtimestamp(want[-1] if want else now + 30 * 366 * 86400,
                               timezone.utc)
    months = (b.year - a.year) * 12 + b.month - a.month
    return months >= 12 or any((a.month - 1 + k) % 12 == 1
                               for k in range(months + 1))


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def main():
    leura, repo, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    rng = random.Random(seed)
    exprs = {}
    for i in range(count):
        name = "c%04d" % i
        exprs[name] = random_expr(rng)
        with open("%s/tasks/%s.yml" % (repo, name), "w") as fp:
            fp.write('targets: {hosts: [web1]}\n'
                     'schedule: {cron: "%s"}\n'
                     'steps:\n  - script: "true"\n' % exprs[name])
    scanners = {n: Scanner(e) for n, e in exprs.items()}
    # start times from 1971 to 2090, at any second
    nows = [rng.randint(31536000, 3786825600) for _ in range(6)]
    nows.append(1768473000)             # 2026-01-15T10:30:00Z
    bad = checked = by_croniter = 0
    for now in nows:
        out = subprocess.run([leura, "-C", repo, "schedule", "--tasks",
                              "--json", "--now", iso(now)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print("leura schedule failed at %s:\n%s" % (iso(now),
                                                        out.stderr))
            return 1
        tasks = json.loads(out.stdout)["tasks"]
        for name, expr in exprs.items():
            got = tasks[name]["next"]
            sc = scanners[name]
            want, t = [], now
            while len(want) < 3:
                t = sc.next(t)
                if t is None:
                    break
                want.append(t)
            checked += 1
            if got != [iso(x) for x in want]:
                bad += 1
                if bad <= 10:
                    print("'%s' after %s: leura %s, crontab(5) scanner %s"
                          % (expr, iso(now), got, [iso(x) for x in want]))
                continue
            if any(sc.full[f] and not expr.split()[f][0] in "*?"
                   for f in (2, 4) if not expr.startswith("@")):
                continue            # croniter reads it as "*"
            if not sc.full[2] and max(sc.sets[2]) > 28 and \
                    crosses_february(now, want):
                continue            # croniter's March bug
            cr = croniter_next3(expr, now, sc.day_or)
            if cr is None:
                continue
            by_croniter += 1
            if got != [iso(x) for x in cr]:
                bad += 1
                if bad <= 10:
                    print("'%s' after %s (day_or %s): leura %s, croniter "
                          "%s" % (expr, iso(now), sc.day_or, got,
                                  [iso(x) for x in cr]))
    print("%d expressions, %d start times: %d compared with the crontab(5) "
          "scanner, %d with croniter, %d differences"
          % (count, len(nows), checked, by_croniter, bad))
    if croniter is not None and by_croniter < checked // 2:
        # the cases left to the scanner alone grew: croniter would end up
        # checking nothing while the test still passed
        print("croniter checked %d of %d: too few" % (by_croniter, checked))
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
