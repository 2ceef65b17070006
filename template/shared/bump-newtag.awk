# Print the kustomization with newTag of the images: entry named `image` set to "`tag`".
# Reads the file twice: pass 1 finds the newTag line of that entry, pass 2 prints the file with
# only that line changed (its comment kept). Prints nothing and exits 3 when newTag is
# already `tag`, and 2 unless exactly one block-style entry has that name and a newTag line.
# With -v show=1 it prints the current newTag of that entry instead (exit 2 as above).
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
  }
  in_item = 0
  item_name = ""
  tag_line = 0
  tag_value = ""
}
function finish() {
  end_item()
  checked = 1
  if (found == 1 && target > 0 && show) {
    print current
    failed = 1
    exit 0
  }
  if (found == 1 && target > 0 && current == tag) {
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
  }
  next
}
!checked { finish() }
FNR == target {
  cr = ""
  if ($0 ~ /\r$/) {
    cr = "\r"
    sub(/\r$/, "")
  }
  match($0, /newTag[ \t]*:[ \t]*/)
  head = substr($0, 1, RSTART + RLENGTH - 1)
  if (head !~ /[ \t]$/) head = head " "
  value = substr($0, RSTART + RLENGTH)
  q = substr(value, 1, 1)
  tail = ""
  if (q == "\"" || q == "\047") {
    value = substr(value, 2)
    tail = substr(value, index(value, q) + 1)
  } else if (match(value, /[ \t]+#/)) {
    tail = substr(value, RSTART)
  }
  print head "\"" tag "\"" tail cr
  next
}
{ print }
END {
  if (!checked && !failed) finish()
}
