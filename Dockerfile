# Build stage: compile TypeScript to dist/ (npm run build), then drop dev dependencies.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime: compiled JavaScript only, no TypeScript loader.
FROM node:20-slim
WORKDIR /app
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# Node directly (not npm) so SIGTERM reaches the process and shutdown is graceful.
CMD ["node", "dist/server.js"]
