#!/usr/bin/env bash
# Writes a few MB of real English prose as plain text, one verse per line: the King James Bible
# (public domain) from Debian's sword-text-kjv, dumped with mod2imp (libsword-utils) with the OSIS
# markup stripped. It is the input of `retain bench tokenize --file`. Installs the two packages
# when they are missing (needs root then).
set -euo pipefail
out=${1:?usage: bench-text.sh OUT_FILE}

missing=()
for p in sword-text-kjv libsword-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "[bench-text] these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "[bench-text] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# mod2imp prints "$$$Book C:V" key lines, each followed by the entry as OSIS XML. Footnotes and
# cross-references (<note>) are not verse text: each becomes a space, so the words around it stay
# apart. Then every other tag goes, whitespace runs shrink to one space, and empty entries (book
# and chapter headings) are dropped.
mod2imp engKJV2006eb | perl -ne '
  next if /^\$\$\$/;
  s{<note\b[^>]*/>}{ }g;
  s{<note\b.*?</note>}{ }g;
  s{<[^>]*>}{}g;
  s/\s+/ /g;
  s/^ //;
  s/ $//;
  print "$_\n" if length;
' >"$out.part"
mv "$out.part" "$out"
echo "[bench-text] $out: $(wc -l <"$out") lines, $(wc -c <"$out") bytes"
