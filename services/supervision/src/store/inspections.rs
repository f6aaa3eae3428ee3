//! Random inspection draws (双随机一公开), stored whole so that anyone can re-run them.

use super::{Audit, Store, StoreError, json, rfc3339, to_json};
use crate::domain::InspectionDraw;

impl Store {
    /// Stores a draw.
    pub async fn insert_draw(
        &self,
        draw: &InspectionDraw,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        self.exec(
            &*txn,
            "INSERT INTO inspection_draws (draw_id, region_code, doc, actor, at) VALUES (?, ?, ?, ?, ?)",
            vec![draw.draw_id.clone().into(), draw.region.to_string().into(), to_json(draw)?.into(), audit.actor.clone().into(), rfc3339(audit.at).into()],
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A draw.
    pub async fn draw(&self, id: &str) -> Result<Option<InspectionDraw>, StoreError> {
        let row = self
            .one(
                self.db(),
                "SELECT doc FROM inspection_draws WHERE draw_id = ?",
                vec![id.to_string().into()],
            )
            .await?;
        row.map(|r| json(&r, "doc")).transpose()
    }
}
