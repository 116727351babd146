FROM node:20-bookworm-slim
LABEL org.opencontainers.image.title="Example web" \
      org.opencontainers.image.description="A \"small\" Node service" version=1.4.2
LABEL maintainer.name 'Jo Doe'
ENV NODE_ENV=production
ENV APP_HOME /home/node/app
ENV GREETING="hello world" FAREWELL='see you' MOTTO=say\ it\ loud
ENV QUOTED="she said \"hi\""
ENV PATH=/home/node/app/node_modules/.bin:$PATH
ENV LEGACY value with   spaces
WORKDIR $APP_HOME
COPY --chown=node:node package*.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --chown=node:node . .
USER node
EXPOSE 3000/tcp
STOPSIGNAL SIGTERM
CMD ["node", "server.js"]
