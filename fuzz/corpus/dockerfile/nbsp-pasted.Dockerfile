FROM alpine:3.19
EXPOSE 80 443
VOLUME /data /logs
ENV LEGACY name value
RUN echo hi
COPY a b /dst/
ENV A=1 B=2
