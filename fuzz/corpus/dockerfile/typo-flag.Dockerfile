FROM node:20
WORKDIR /app
COPY --chwon=node:node package.json ./
