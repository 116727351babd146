\
FROM alpine AS Quirky
RUN cat <<EOF>/etc/issue
hello
EOF
EOF>/etc/issue
ENV A=1 \
    B=2 \