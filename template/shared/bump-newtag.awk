# Print the kustomization with newTag of the images: entry named `image` set to "`tag`", and,
# with -v digest=sha256:..., its digest set to that digest (a digest: line is added right after
# newTag, at the indentation of newTag, when the entry has none; without a digest, an old digest:
# line is dropped, so that tag and digest never name two different images).
# Reads the file twice: pass 1 finds the lines of that entry, pass 2 prints the file with only
# those lines changed (their comments kept). Prints nothing and exits 3 when newTag is already
# `tag` and the digest already `digest`, and 2 unless exactly one block-style entry has that
# name and a newTag line. With -v show=1 it prints the current newTag of that entry instead.
function unquote(v,    q) {
  sub(/^[ \t]+/, "", v)
  q = substr(v, 1, 1)
  if (q == "\"" || q == "\047") {
    v = substr(v, 2)
    return substr(v, 1, index(v, q) - 1)
  }
  sub(/[ \t]+#.*$/, "", v)
  sub(/[ \t]+$/, "", v)
  return v
}
function end_item() {
  if (in_item && item_name == image) {
    found++
    target = tag_line
    current = tag_value
    digest_target = digest_line
    current_digest = digest_value
  }
  in_item = 0
  item_name = ""
  tag_line = 0
  tag_value = ""
  digest_line = 0
  digest_value = ""
}
function finish() {
  end_item()
  checked = 1
  if (found == 1 && target > 0 && show) {
    print current
    failed = 1
    exit 0
  }
  if (found == 1 && target > 0 && current == tag && current_digest == digest) {
    failed = 1
    exit 3
  }
  if (found == 1 && target > 0) return
  if (found == 0) print "no images: entry named " image " in " FILENAME > "/dev/stderr"
  else if (found > 1) print found " images: entries named " image " in " FILENAME > "/dev/stderr"
  else print "the images: entry " image " in " FILENAME " has no newTag" > "/dev/stderr"
  failed = 1
  exit 2
}
NR == FNR {
  line = $0
  sub(/\r$/, "", line)
  if (line ~ /^[^ \t#-]/) {
    end_item()
    top = line
    sub(/[ \t]*:.*$/, "", top)
    next
  }
  if (top != "images" || line ~ /^[ \t]*(#|$)/) next
  match(line, /^ */)
  indent = RLENGTH
  rest = substr(line, indent + 1)
  if (rest ~ /^-([ \t]|$)/) {
    if (in_item && indent > item_indent) next
    end_item()
    in_item = 1
    item_indent = indent
    rest = substr(rest, 2)
    match(rest, /^[ \t]*/)
    key_indent = indent + 1 + RLENGTH
    rest = substr(rest, RLENGTH + 1)
  } else if (!in_item || indent != key_indent) {
    next
  }
  if (rest ~ /^name[ \t]*:/) {
    sub(/^name[ \t]*:/, "", rest)
    item_name = unquote(rest)
  } else if (rest ~ /^newTag[ \t]*:/) {
    sub(/^newTag[ \t]*:/, "", rest)
    tag_line = FNR
    tag_value = unquote(rest)
  } else if (rest ~ /^digest[ \t]*:/) {
    sub(/^digest[ \t]*:/, "", rest)
    digest_line = FNR
    digest_value = unquote(rest)
  }
  next
}
!checked { finish() }
function set_value(line, key, value,    cr, head, rest, q, tail) {
  cr = ""
  if (line ~ /\r$/) {
    cr = "\r"
    sub(/\r$/, "", line)
  }
  match(line, key "[ \t]*:[ \t]*")
  head = substr(line, 1, RSTART + RLENGTH - 1)
  if (head !~ /[ \t]$/) head = head " "
  rest = substr(line, RSTART + RLENGTH)
  q = substr(rest, 1, 1)
  tail = ""
  if (q == "\"" || q == "\047") {
    rest = substr(rest, 2)
    tail = substr(rest, index(rest, q) + 1)
  } else if (match(rest, /[ \t]+#/)) {
    tail = substr(rest, RSTART)
  }
  return head "\"" value "\"" tail cr
}
FNR == target {
  print set_value($0, "newTag", tag)
  if (digest != "" && digest_target == 0) {
    cr = ""
    if ($0 ~ /\r$/) cr = "\r"
    match($0, /newTag[ \t]*:/)
    indent = substr($0, 1, RSTART - 1)
    gsub(/[^ \t]/, " ", indent)
    print indent "digest: \"" digest "\"" cr
  }
  next
}
FNR == digest_target && digest_target > 0 {
  if (digest != "") print set_value($0, "digest", digest)
  next
}
{ print }
END {
  if (!checked && !failed) finish()
}
