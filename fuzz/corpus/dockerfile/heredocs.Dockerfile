# syntax=docker/dockerfile:1
FROM alpine:3.19
RUN <<EOF
set -eu
apk add --no-cache bash
echo "built at $(date)" > /built
EOF
RUN <<-EOT
	if [ -n "$HOME" ]; then
		echo home is $HOME
	fi
	EOT
COPY <<EOF /etc/app/conf.ini
[server]
port = ${PORT:-8080}
EOF
RUN <<'EOF' sh
echo '$NOT_EXPANDED'
EOF
RUN cat <<A - <<"B" > /out
first
A
second $X
B
COPY --chmod=0755 <<run.sh <<-"check.sh" /usr/local/bin/
#!/bin/sh
exec app
run.sh
	#!/bin/sh
	test -x /usr/local/bin/run.sh
	check.sh
RUN python3 <<PY
print("hi")
PY
