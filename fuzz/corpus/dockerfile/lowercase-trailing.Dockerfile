from alpine:3.19 as Base   
arg VERSION=1.0 
env APP=demo  
run echo building $APP $VERSION   \  
    && echo done 
workdir app 
workdir ./sub dir 
copy --link . . 
expose 8080 
user app 
label com.example.k=v 
healthcheck none 
cmd ["./app"]   
entrypoint /bin/sh -c   
