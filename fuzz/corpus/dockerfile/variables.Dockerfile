ARG REGISTRY=docker.io
ARG BASE_TAG="3.19"
ARG PLATFORM
FROM --platform=${PLATFORM:-linux/amd64} ${REGISTRY}/library/alpine:${BASE_TAG} AS app
ARG USER_ID=1000 GROUP_ID
ARG HOME_DIR=/home/${USER_NAME:-app}
ENV APP_HOME=${HOME_DIR}/srv \
    DEBUG=${DEBUG:+true} \
    PORT=$PORT
LABEL build.user="${USER_ID}:${GROUP_ID:-1000}" build.tag=$BASE_TAG
WORKDIR ${APP_HOME:-/srv}
ADD --chown=${USER_ID}:${GROUP_ID:-1000} ./dist/${VERSION:-dev}.tar.gz $APP_HOME/
COPY --from=${BUILDER:-builder} /out/${BIN_NAME:-app} ${APP_HOME}/bin/
USER ${USER_ID}:${GROUP_ID:-${USER_ID}}
EXPOSE ${PORT:-8080}/tcp $METRICS_PORT
VOLUME ${APP_HOME}/data
STOPSIGNAL ${STOP_SIGNAL:-SIGTERM}
RUN echo "${GREETING:-hello} ${NAME:+dear }$NAME" > $APP_HOME/greeting
ONBUILD ENV ONBUILT=${APP_HOME:-/srv}
CMD echo $APP_HOME
