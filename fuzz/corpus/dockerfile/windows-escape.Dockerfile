# escape=`
# syntax=docker/dockerfile:1

FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
WORKDIR C:\app
COPY bin\Release\ C:\app\
RUN New-Item -ItemType Directory -Path C:\data ; `
    Set-Content -Path C:\data\readme.txt -Value 'hi'
ENV LOG_DIR=C:\logs `
    TEMP_DIR="C:\Program Files\tmp"
RUN dir c:\
USER ContainerUser
VOLUME C:\data
ENTRYPOINT ["C:\\app\\app.exe"]
CMD ["--config", "C:\\app\\config.json"]
