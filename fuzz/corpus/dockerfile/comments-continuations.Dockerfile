# Build an nginx image with a static site.
# escape=`
FROM nginx:1.25-alpine
# comment between instructions
  RUN echo indented \
# a comment inside a continuation
      && echo after-comment \
      \
      && echo after-lone-escape
COPY --link site/ /usr/share/nginx/html/
COPY ["with space.conf", "/etc/nginx/conf.d/default.conf"]
RUN echo 'C:\path\' && echo ok
RUN echo one \\
RUN echo two
EXPOSE 80/tcp 443
VOLUME ["/var/cache/nginx"]
RUN echo "# not a comment" # nor this
CMD ["nginx", "-g", "daemon off;"]
