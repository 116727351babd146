FROM busybox
CMD ["sh", "-c", "echo \"hi\" \u0026\u0026 true"]
ENTRYPOINT [ "/bin/echo" , "caf\u00e9", "\ud83d\ude00" ]
RUN ["echo", "tab\there", "slash\/ok"]
RUN [echo, hi]
CMD ['single', 'quotes']
ENTRYPOINT ["unterminated"
RUN ["a", "b"] && echo trailing
CMD []
VOLUME ["/data", "/var/lib/app"]
VOLUME [/not/json]
CMD ["echo", "\ud800 lone"]
ENTRYPOINT ["\udc00\ud83d\ude00x"]
RUN ["printf", "\ud83d\u0041"]
