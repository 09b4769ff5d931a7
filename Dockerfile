FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY tsconfig.json ./
COPY src ./src
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# Node directly (not npm) so SIGTERM reaches the process and shutdown is graceful.
CMD ["node", "--import", "tsx", "src/server.ts"]
