# msix_lspci.bash: `lspci -vv`'s MSI and MSI-X lines rewritten as `vfio-msix info` prints them,
# so that suites can compare the two field by field. Used by tests/cli and tests/lab.

# lspci_msix LSPCI_ARGS...: e.g. lspci_msix -s 0000:01:00.0, or lspci_msix -F dump -s 01:00.0
lspci_msix() {
	lspci -vv "$@" 2>/dev/null | lspci_msix_text
}

# lspci_msix_text <LSPCI_VV_OUTPUT: the same from lspci -vv text already captured (on another
# machine, say).
lspci_msix_text() {
	awk '
	function yn(s) { return s ~ /\+$/ ? "yes" : "no" }
	/Capabilities: \[[0-9a-f]+\] MSI: / {
		off = $2; gsub(/[\[\]]/, "", off)
		split($5, c, /[=\/]/)
		msi = sprintf("msi 0x%s %s %s %s %s %s", off, yn($4), c[2], c[3], yn($6), yn($7))
		want_addr = 1; next
	}
	want_addr && /Address:/ {
		print msi, "0x" $2, "0x" $4; want_addr = 0; next
	}
	/Capabilities: \[[0-9a-f]+\] MSI-X: / {
		if (want_addr) { print msi, "-", "-"; want_addr = 0 }
		off = $2; gsub(/[\[\]]/, "", off)
		split($5, c, "=")
		msix = sprintf("msix 0x%s %s %s %s", off, yn($4), yn($6), c[2]); next
	}
	msix && /Vector table:/ { split($3, b, "="); split($4, o, "="); tb = b[2]; to = o[2]; next }
	msix && /PBA:/ {
		split($2, b, "="); split($3, o, "=")
		print msix, tb, "0x" to, b[2], "0x" o[2]; msix = ""; next
	}
	/Capabilities:/ && want_addr { print msi, "-", "-"; want_addr = 0 }'
}
