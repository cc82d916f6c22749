/** The server's OpenAPI 3.1 document (GET /openapi.json). */

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const imageBody = {
  required: true,
  description: 'The image (JPEG, PNG, WebP, ...) as the raw body, or as the file part of a multipart form',
  content: {
    'image/*': { schema: { type: 'string', format: 'binary' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        properties: {
          image: { type: 'string', format: 'binary' },
          tasks: { type: 'string', description: 'comma-separated task names (POST /v1/predict)' },
        },
      },
    },
  },
};

const topKParameter = {
  name: 'topK',
  in: 'query',
  schema: { type: 'integer', minimum: 1 },
  description: 'classes per task (default: the server’s)',
};

const predictErrors = {
  '400': errorResponse('bad_request'),
  '404': errorResponse('unknown_task'),
  '413': errorResponse('body_too_large'),
  '415': errorResponse('not_an_image'),
  '422': errorResponse('corrupt_image or image_too_many_pixels'),
  '503': errorResponse('queue_full (with Retry-After) or shutting_down'),
  '504': errorResponse('deadline_exceeded'),
};

/** The document, with `version` as info.version. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'vpt-native serve',
      version,
      description: 'Many VPT tasks on one frozen ViT backbone, mixed-task batches',
    },
    paths: {
      '/v1/tasks': {
        get: {
          summary: 'The backbone and every task: classes, prompt config, backbone fingerprint',
          responses: {
            '200': { description: 'tasks', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
      '/v1/tasks/{task}/predict': {
        post: {
          summary: 'Top-k classes of one image for one task',
          parameters: [{ name: 'task', in: 'path', required: true, schema: { type: 'string' } }, topKParameter],
          requestBody: imageBody,
          responses: {
            '200': {
              description: 'top-k',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskPrediction' } } },
            },
            ...predictErrors,
          },
        },
      },
      '/v1/predict': {
        post: {
          summary: 'Top-k classes of one image for several tasks',
          parameters: [
            {
              name: 'tasks',
              in: 'query',
              schema: { type: 'string' },
              description: 'comma-separated task names (default: every task)',
            },
            topKParameter,
          ],
          requestBody: imageBody,
          responses: {
            '200': {
              description: 'top-k per task',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      predictions: { type: 'array', items: { $ref: '#/components/schemas/TaskPrediction' } },
                    },
                  },
                },
              },
            },
            ...predictErrors,
          },
        },
      },
      '/healthz': { get: { summary: 'The process is up', responses: { '200': { description: 'ok' } } } },
      '/readyz': {
        get: {
          summary: 'Ready for traffic (503 while shutting down)',
          responses: { '200': { description: 'ready' }, '503': { description: 'shutting down' } },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain; version=0.0.4' } } },
      },
    },
    components: {
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: { code: { type: 'string' }, message: { type: 'string' } },
              required: ['code', 'message'],
            },
          },
        },
        TaskPrediction: {
          type: 'object',
          properties: {
            task: { type: 'string' },
            top: {
              type: 'array',
              items: {
                type: 'object',
                properties: { label: { type: 'integer' }, name: { type: 'string' }, prob: { type: 'number' } },
              },
            },
          },
        },
      },
    },
  };
}
