# Sourced by the setup scripts (setup-faiss.sh, delf/setup-photos.sh, delf/setup-pretrained.sh):
# their one command line, [--force] [DIR].
#   setup_args NAME HELP_END DEFAULT_DIR "$@"
# sets force (0 or 1) and dir (DEFAULT_DIR unless one is given); --help prints the script's header
# comment, lines 2 to HELP_END, and exits.
setup_args() {
  local name=$1 help_end=$2 default_dir=$3 arg
  shift 3
  force=0
  dir=""
  for arg in "$@"; do
    case "$arg" in
      --force) force=1 ;;
      -h|--help) sed -n "2,${help_end}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      -*) echo "$name: unknown option $arg (try --help)" >&2; exit 2 ;;
      *) [[ -z "$dir" ]] || { echo "$name: one DIR only" >&2; exit 2; }; dir="$arg" ;;
    esac
  done
  dir="${dir:-$default_dir}"
}
