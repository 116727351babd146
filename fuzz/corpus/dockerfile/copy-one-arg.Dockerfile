FROM alpine
WORKDIR /app
COPY app.py
