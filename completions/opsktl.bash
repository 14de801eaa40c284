# bash completion for opsktl                                   -*- shell-script -*-
# Installed as share/bash-completion/completions/opsktl; or source this file.
# Completes subcommands, their options, the values of options with fixed choices,
# and file names elsewhere. Works with or without the bash-completion package.

_opsktl_subcommands="errors-by-endpoint flapping merge space-hogs dedupe"

# Options per subcommand, as `opsktl SUBCOMMAND --help` lists them.
_opsktl_log_opts="--log-format --field --service --regex --since --until --year --tz --strict"
_opsktl_opts_errors_by_endpoint="-h --help -k --top --status --by --normalize --latency-unit $_opsktl_log_opts
  --format -q --quiet -v --verbose --threads"
_opsktl_opts_flapping="-h --help -n --max-restarts -w --window --event --event-regex --alerts
  --reorder -f --follow $_opsktl_log_opts --format -q --quiet -v --verbose --threads"
_opsktl_opts_merge="-h --help -o --output --label --orphans --check --reorder $_opsktl_log_opts
  -q --quiet -v --verbose"
_opsktl_opts_space_hogs="-h --help -k --top --files-only --dirs-only --apparent-size
  --count-links -x --one-file-system --exclude --save --compare --shrunk --format
  -q --quiet -v --verbose --threads -0 --null"
_opsktl_opts_dedupe="-h --help --apply --link --keep --verify --ignore-metadata --min-size
  -x --one-file-system --exclude --state --format -q --quiet -v --verbose --threads -0 --null"

# Prints the words to offer for the value of option $1 ("" when free text), or
# "@files" when the value is a file name.
_opsktl_values() {
  case $1 in
    --format) echo "auto table tsv json" ;;
    --log-format) echo "auto fields combined syslog logfmt json regex w3c" ;;
    --latency-unit) echo "s ms us ns" ;;
    --alerts) echo "every episode" ;;
    --orphans) echo "attach skip" ;;
    --link) echo "hardlink symlink reflink" ;;
    --keep) echo "first oldest newest" ;;
    --verify) echo "bytes hash" ;;
    --status) echo "5xx 4xx 4xx,5xx" ;;
    --tz) echo "UTC" ;;
    --field) echo "ts= service= path= status= latency= event= method= client=" ;;
    -o | --output | --save | --compare | --state) echo "@files" ;;
    *) echo "" ;;
  esac
}

# Options that take a value (the next word is not a file or an option).
_opsktl_takes_value() {
  case $1 in
    -k | --top | --status | --by | --log-format | --latency-unit | --field | --service | --regex | --since | \
    --until | --year | --tz | --format | --threads | -n | --max-restarts | -w | --window | \
    --event | --event-regex | --alerts | --reorder | -o | --output | --orphans | --exclude | \
    --save | --compare | --link | --keep | --verify | --min-size | --state) return 0 ;;
  esac
  return 1
}

_opsktl_files() {
  if declare -F _filedir >/dev/null; then
    _filedir
  else
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$1"))
  fi
}

_opsktl() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # --format=json: bash splits the word at "=" (COMP_WORDBREAKS): "--format" "=" "json".
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi

  # The subcommand is the first word after opsktl that is not an option.
  local sub="" i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word != -* ]]; then
      sub=$word
      break
    fi
  done

  if [[ -z $sub ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "-h --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$_opsktl_subcommands" -- "$cur"))
    fi
    return 0
  fi

  local opts_var="_opsktl_opts_${sub//-/_}"
  local opts
  opts=$(printf '%s ' ${!opts_var-})  # one line, single spaces
  [[ -z $opts ]] && return 0

  if [[ $prev == -* ]] && _opsktl_takes_value "$prev" && [[ " $opts " == *" $prev "* ]]; then
    local values
    values=$(_opsktl_values "$prev")
    if [[ $values == "@files" ]]; then
      _opsktl_files "$cur"
    elif [[ $prev == --by ]]; then
      # A comma list: complete the key after the last comma.
      local done_part="" last=$cur
      if [[ $cur == *,* ]]; then
        done_part=${cur%,*},
        last=${cur##*,}
      fi
      COMPREPLY=($(compgen -P "$done_part" -W "service path status method client" -- "$last"))
      compopt -o nospace 2>/dev/null
    elif [[ -n $values ]]; then
      COMPREPLY=($(compgen -W "$values" -- "$cur"))
      [[ $prev == --field ]] && compopt -o nospace 2>/dev/null
    fi
    return 0
  fi

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return 0
  fi
  _opsktl_files "$cur"
  return 0
}

complete -F _opsktl opsktl
