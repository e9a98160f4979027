#!/usr/bin/env python3
"""Pick the real photographs out of unpacked Debian packages and write the photo manifest.

Stdlib only: the build machines have neither PIL nor ImageMagick. Called by setup-photos.sh,
which does the downloading and unpacking; this file holds the one list of what to take.

Which files are photographs was judged by eye once (contact sheets of every JPEG/PNG of at
least 200x200 px in each package) and is written down below as path patterns, because no
cheap header test tells a photo from a rendered wallpaper, a screenshot or a drawing.
On top of the patterns every file must be a JPEG or PNG whose header says at least
MIN_SIDE x MIN_SIDE pixels.

Subcommands
  packages                       print "package<TAB>alternative|alternative..." lines
  rules-hash                     print a hash of the rules (setup-photos.sh stamps with it)
  copy PKG ROOT DEST             copy PKG's photos from the unpacked tree ROOT into DEST
  manifest DIR                   de-duplicate DIR/photos and DIR/distractors, write
                                 DIR/manifest.tsv and print counts per package
"""
import fnmatch
import hashlib
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imgsize  # noqa: E402  (sibling file)

MIN_SIDE = 200
HELDOUT_PERCENT = 30
EXTENSIONS = (".jpg", ".jpeg", ".png")
MANIFEST_HEADER = ["id", "path", "package", "width", "height", "sha256", "role", "group"]


class Rule:
    """What to take from one package.

    names: the apt package names to try in order (the first that downloads wins).
    include: fnmatch patterns on the path inside the package (no leading slash).
    exclude: fnmatch patterns on the file's base name, checked after include.
    groups: (regex, replacement) applied to the file stem: photos of the same scene or
            object (stereo pairs, graf1/graf3, grand_canyon_1/2/3) share a group, so that
            the benchmark counts them as the same instance and the train/heldout split keeps
            them on the same side.
    distractor: photos go to DIR/distractors/ with role "distractor".
    required: a failed download stops the setup (else a warning and the package is left out).
    """

    def __init__(self, names, include, exclude=(), groups=(), distractor=False, required=True):
        self.names = list(names)
        self.include = list(include)
        self.exclude = list(exclude)
        self.groups = [(re.compile(p), r) for p, r in groups]
        self.distractor = distractor
        self.required = required

    @property
    def package(self):
        # The directory name does not depend on which alternative downloaded.
        return self.names[0]


_OCV = "usr/share/doc/opencv-doc/examples/"
_OCV_DATA = [
    "fruits.jpg", "baboon.jpg", "leuvenA.jpg", "leuvenB.jpg", "ela_original.jpg",
    "squirrel_cls.jpg", "home.jpg", "aloeL.jpg", "aloeR.jpg", "board.jpg", "basketball1.png",
    "basketball2.png", "orange.jpg", "chicky_512.png", "stuff.jpg", "licenseplate_motion.jpg",
    "rubberwhale1.png", "rubberwhale2.png", "messi5.jpg", "graf1.png", "graf3.png",
    "aero1.jpg", "aero3.jpg", "apple.jpg", "box.png", "box_in_scene.png", "butterfly.jpg",
    "building.jpg", "left.jpg", "right.jpg",
]

# Order matters: when two packages ship the same bytes, the earlier package keeps the file.
RULES = [
    Rule(["scratch"], ["usr/share/scratch/Media/Backgrounds/*/*"],
         # drawn (not photographed) backgrounds
         exclude=["woods-and-bench.jpg", "basketball-court2.png", "school2.jpg",
                  "brick-wall1.jpg", "room1.jpg", "room2.jpg", "room3.jpg", "chalkboard.jpg",
                  "spotlight-stage.jpg", "party-room.jpg"],
         groups=[(r"^basketball-court1-[ab]$", "basketball-court1"),
                 (r"^city-with-water2?$", "city-with-water")]),
    Rule(["kphotoalbum"], ["usr/share/kphotoalbum/demo/*"],
         # bar55.jpg / bar55_2.jpg, grand_canyon_1..3.jpg: the pattern matches every stem
         groups=[(r"^(.*?)(_\d+)?$", r"\1")]),
    Rule(["opencv-doc"],
         [_OCV + "alphamat/input_images/plant.jpg", _OCV + "text/scenetext0?.jpg",
          _OCV + "reg/home.png", _OCV + "dnn_superres/butterfly.png", _OCV + "hfs/data/*.jpg"]
         + [_OCV + "data/" + n for n in _OCV_DATA],
         groups=[(r"^aloe[LR]$", "aloe"), (r"^leuven[AB]$", "leuven"), (r"^graf[13]$", "graf"),
                 (r"^aero[13]$", "aero"), (r"^basketball[12]$", "basketball"),
                 (r"^rubberwhale[12]$", "rubberwhale"), (r"^box(_in_scene)?$", "box"),
                 (r"^(left|right)$", "left-right")]),
    Rule(["kalzium-data"], ["usr/share/kalzium/data/toolpics/*"]),
    Rule(["tuxpaint-data"],
         ["usr/share/tuxpaint/templates/*.jpg",
          "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg",
          "usr/share/tuxpaint/starters/reef-back.png"]),
    Rule(["python3-skimage"], ["usr/lib/python3/dist-packages/skimage/data/*"],
         # rendered, synthetic or text images
         exclude=["bw_text.png", "chessboard_*.png", "clock_motion.png", "color.png",
                  "green_palette.png", "horse.png", "logo.png", "phantom.png", "cell.png"],
         groups=[(r"^motorcycle_(left|right)$", "motorcycle")]),
    Rule(["mate-backgrounds"], ["usr/share/backgrounds/mate/nature/*"]),
    Rule(["lomiri-wallpapers-20.04", "lomiri-wallpapers-16.04"],
         ["usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
          "usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg"]),
    Rule(["lxqt-themes"],
         ["usr/share/lxqt/wallpapers/" + n for n in (
             "flowers.png", "fog.jpg", "after-the-rain.jpg", "Butterfly-Kenneth-Wimer.jpg",
             "beam.png", "Valendas.png", "appleflower.png", "cloud.png", "drop.png",
             "this-is-not-windows.jpg", "butterfly.png")]),
    Rule(["palapeli-data"], ["usr/share/palapeli/collection/*.jpg"]),
    Rule(["tuxtype-data"],
         ["usr/share/tuxtype/images/kcas*.jpg", "usr/share/tuxtype/images/hidden.jpg",
          "usr/share/tuxtype/images/backgrounds/[0-3].jpg",
          "usr/share/tuxtype/themes/*/images/photo.png"]),
    Rule(["darknet"],
         ["usr/share/darknet/data/" + n for n in (
             "dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg")],
         required=False),
    Rule(["python3-sklearn"], ["usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg"],
         required=False),
    Rule(["stellarium-data"], ["usr/share/stellarium/nebulae/default/*"], distractor=True),
]


def die(msg):
    print("photo_select: " + msg, file=sys.stderr)
    sys.exit(2)


def rule_for(package):
    for r in RULES:
        if package in r.names:
            return r
    die(f"no rule for package {package!r}; known: {', '.join(r.package for r in RULES)}")


def rules_hash():
    h = hashlib.sha256()
    h.update(f"{MIN_SIDE} {HELDOUT_PERCENT}".encode())
    for r in RULES:
        h.update(repr((r.names, r.include, r.exclude, [(p.pattern, s) for p, s in r.groups],
                       r.distractor)).encode())
    with open(imgsize.__file__, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unique_names(rel_paths):
    """Map each package-relative path to a flat file name, unique within the package.

    The base name when it is unique; otherwise parent directory names are prefixed (nearest
    first) until the names differ, e.g. tuxtype's themes/italian/images/photo.png becomes
    italian-images-photo.png.
    """
    out = {}
    by_base = {}
    for p in rel_paths:
        by_base.setdefault(os.path.basename(p).lower(), []).append(p)
    for paths in by_base.values():
        if len(paths) == 1:
            out[paths[0]] = os.path.basename(paths[0])
            continue
        depth = 1
        while True:
            names = {p: "-".join(p.split("/")[-1 - depth:]) for p in paths}
            if len({n.lower() for n in names.values()}) == len(paths) or depth > 32:
                break
            depth += 1
        # the shortest unique suffix may still carry a common middle part ("images"): fine
        out.update(names)
    return out


def cmd_copy(package, root, dest):
    rule = rule_for(package)
    if not os.path.isdir(root):
        die(f"unpacked tree {root} does not exist")
    picked = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if not name.lower().endswith(EXTENSIONS) or os.path.islink(full):
                continue
            if not any(fnmatch.fnmatchcase(rel, pat) for pat in rule.include):
                continue
            if any(fnmatch.fnmatchcase(name, pat) for pat in rule.exclude):
                continue
            size = imgsize.size(full)
            if size is None:
                print(f"  skip {rel}: not a readable JPEG/PNG header", file=sys.stderr)
                continue
            w, h, _ = size
            if w < MIN_SIDE or h < MIN_SIDE:
                continue
            picked.append(rel)
    picked.sort()
    if not picked:
        die(f"{package}: no photographs matched in {root}; has the package layout changed?")
    os.makedirs(dest, exist_ok=True)
    seen = set()
    copied = 0
    for rel, name in sorted(unique_names(picked).items()):
        src = os.path.join(root, rel)
        digest = sha256_file(src)
        if digest in seen:  # identical bytes inside one package (e.g. per-language copies)
            continue
        seen.add(digest)
        shutil.copyfile(src, os.path.join(dest, name))
        copied += 1
    print(f"  {package}: {copied} photos copied ({len(picked)} matched)")


def group_of(rule, name):
    """The scene group of a file: a group rule's result on its stem, else the file name
    itself (opencv-doc ships both home.jpg and home.png, and they are different photos)."""
    stem = os.path.splitext(name)[0]
    for pattern, repl in rule.groups:
        if pattern.search(stem):
            return pattern.sub(repl, stem)
    return name


def cmd_manifest(top):
    rows = []
    seen = {}
    dropped = []
    counts = []
    for rule in RULES:
        pkg = rule.package
        sub = os.path.join("distractors", pkg) if rule.distractor else os.path.join("photos", pkg)
        d = os.path.join(top, sub)
        if not os.path.isdir(d):
            counts.append((pkg, None))
            continue
        n = 0
        for name in sorted(os.listdir(d)):
            if name.startswith(".") or not name.lower().endswith(EXTENSIONS):
                continue
            full = os.path.join(d, name)
            digest = sha256_file(full)
            if digest in seen:  # same bytes already shipped by an earlier package
                dropped.append(f"{sub}/{name} (same as {seen[digest]})")
                continue
            size = imgsize.size(full)
            if size is None:
                die(f"{full}: not a readable JPEG/PNG (corrupt copy? remove {d} and rerun)")
            w, h, _ = size
            rel = f"{sub}/{name}".replace(os.sep, "/")
            seen[digest] = rel
            group = f"{pkg}:{group_of(rule, name)}"
            if rule.distractor:
                role = "distractor"
            else:
                # The split hashes the group, not the file, so every view of a scene lands on
                # the same side; sha256 keeps it independent of listing order and platform.
                bucket = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) % 100
                role = "heldout" if bucket < HELDOUT_PERCENT else "train"
            rows.append([f"{pkg}:{name}", rel, pkg, str(w), str(h), digest, role, group])
            n += 1
        counts.append((pkg, n))
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        die("duplicate ids in manifest (file names differing only in case?)")
    tmp = os.path.join(top, "manifest.tsv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(MANIFEST_HEADER) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    os.replace(tmp, os.path.join(top, "manifest.tsv"))
    for d in dropped:
        print(f"  duplicate left out of the manifest: {d}")
    print(f"{'package':<26}{'photos':>7}{'train':>7}{'heldout':>9}{'distr.':>8}{'groups':>8}")
    tot = [0, 0, 0, 0]
    for pkg, n in counts:
        if n is None:
            print(f"{pkg:<26}{'(not set up)':>20}")
            continue
        mine = [r for r in rows if r[2] == pkg]
        tr = sum(r[6] == "train" for r in mine)
        ho = sum(r[6] == "heldout" for r in mine)
        di = sum(r[6] == "distractor" for r in mine)
        gr = len({r[7] for r in mine})
        print(f"{pkg:<26}{n:>7}{tr:>7}{ho:>9}{di:>8}{gr:>8}")
        for i, v in enumerate((n, tr, ho, di)):
            tot[i] += v
    print(f"{'total':<26}{tot[0]:>7}{tot[1]:>7}{tot[2]:>9}{tot[3]:>8}")


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    cmd = argv[1]
    if cmd == "packages" and len(argv) == 2:
        for r in RULES:
            print(f"{r.package}\t{'|'.join(r.names)}\t{'distractor' if r.distractor else 'photo'}"
                  f"\t{'required' if r.required else 'optional'}")
    elif cmd == "rules-hash" and len(argv) == 2:
        print(rules_hash())
    elif cmd == "copy" and len(argv) == 5:
        cmd_copy(argv[2], argv[3], argv[4])
    elif cmd == "manifest" and len(argv) == 3:
        cmd_manifest(argv[2])
    else:
        die(f"bad arguments: {' '.join(argv[1:])}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
