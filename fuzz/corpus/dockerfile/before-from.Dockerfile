# syntax=docker/dockerfile:1
ARG BASE=alpine
RUN echo too early
FROM ${BASE}
